/**
 * The tile database (DESIGN.md §2; PIT §4.4 and SparTA pit_sm80 `test/microbench/stile_db.csv`): measured latency
 * of each kernel configuration — dense computation tiles, pit-k micro-tile heights, pit-m micro-tile widths, with
 * their detection — over a sparsity grid and a few problem sizes, on one adapter with one version of the kernel
 * sources. `stile_db.csv` holds (micro-tile, sparsity, ms) for one 4096² problem with dense as the reference; ours
 * adds the problem size and computation tile, and the cost model (costmodel.ts) moves between sizes.
 *
 * Identity (as tinygrad's and Triton's caches, keyed by everything the result depends on): the adapter (vendor,
 * architecture, device, driver description, backend) and `kernelSourcesHash` — the sha256 of the WGSL generated for
 * every configuration the tuner measures plus the tuner's own version. Any change to a shader template or a program
 * builder changes the hash, so a database measured with other kernels is never matched silently. A database holds one
 * operand dtype (issue 11): the f16 one hashes the f16 families' space on the device plus the dtype (`tileDbHash`), so
 * f32 and f16 databases never mix; f32 hashes are what they were before dtypes.
 *
 * This module holds the types, the hash and `TileModel` (the fitted database the policy asks); the tuner fills a
 * database (tuner.ts) and db/tiledb.ts stores it in SQLite.
 */
import { createHash } from 'node:crypto';
import type { ComputeTile } from '../../shaders/common.wgsl.ts';
import type { DeviceCaps } from '../kernels/family.ts';
import { dtypeOf, familyNames, familyOf, familyOfConfig } from '../kernels/registry.ts';
import { planPrograms, planVariant } from '../kernels/variants.ts';
import type { AdapterDescriptor, ComputeDtype } from '../protocol.ts';
import { DETECT_FEATURES, detectFeatures, fitModel, predictModel, type FittedModel, type Observation, type Shape } from './costmodel.ts';
import type { MicroTileCoverage } from './coverage.ts';
import { configId, spaceConfigs, type RuleConfig } from './rules.ts';

/**
 * Version of the tuner's measurement method (operand generation, timing, verification). Part of the database
 * identity: bump it when a change makes old points incomparable.
 */
export const TUNER_VERSION = 2;

/** One measured point of the tile database. Times in ms; NaN where the configuration failed (it then costs +inf). */
export interface TilePoint {
  /** A registered kernel family's name (core/kernels/registry.ts). */
  family: string;
  /** Configuration micro-tile label (`8x1`, `1x32`, `1xK`), null for dense. */
  microTile: string | null;
  tile: ComputeTile;
  m: number;
  n: number;
  k: number;
  /** Target sparsity of the grid point: fraction 0–1 of micro-tiles zeroed (of elements, for dense). */
  sparsity: number;
  /** Effective micro-tile density 0–1 of the operand as measured (element density for dense). */
  density: number;
  /** Non-zero micro-tiles per block as the kernel saw them (pit-k: per row block; pit-m: per k-chunk); [] for dense. */
  counts: number[];
  /** Kernel time (median of the repeats, lowest over rounds), ms; NaN when failed. */
  kernelMs: number;
  /** Detection time (zeroing counts + detection), ms; 0 for dense; NaN when failed. */
  detectMs: number;
  /** Whether the output matched the CPU reference within tolerance. */
  ok: boolean;
  /** Max |GPU − reference|; NaN when it did not run. */
  maxAbsErr: number;
  /** sha256 of the main kernel's WGSL; '' when it failed before any. */
  wgslHash: string;
  /** Why it failed (build, run or verification), when it did. */
  error?: string;
}

/** The key of a point (unique per database): configuration, shape and target sparsity. */
export function pointKey(p: Pick<TilePoint, 'family' | 'microTile' | 'tile' | 'm' | 'n' | 'k' | 'sparsity'>): string {
  return `${configId({ family: p.family, microTile: p.microTile, tile: p.tile })}|${p.m}x${p.n}x${p.k}|${p.sparsity}`;
}

/** Identity of a tile database. */
export interface TileDbKey {
  adapter: AdapterDescriptor;
  /** `kernelSourcesHash()` when it was tuned. */
  kernelHash: string;
  tunerVersion: number;
}

/** A stored tile database: identity, bookkeeping and its points. */
export interface TileDbSnapshot extends TileDbKey {
  id: number;
  createdAt: string;
  updatedAt: string;
  /** True when times came from timestamp queries. */
  timestampQuery: boolean;
  points: TilePoint[];
}

/** Canonical shapes the kernel sources are hashed at: a multiple-of-4 one and an odd one (kernels may specialise on both). */
const HASH_SHAPES: Shape[] = [
  { m: 256, n: 256, k: 256 },
  { m: 255, n: 253, k: 251 },
];

/**
 * sha256 (hex) of every kernel the tuner and the policy can run among `configs` (default: every f32 family's tuning
 * configurations) — each configuration's programs (detection, zero-fills, kernel) at two canonical shapes — plus
 * TUNER_VERSION and, for a dtype other than f32, the dtype: a tile database is keyed by its dtype (issue 11), so an
 * f16 database is never used for f32 runs or the reverse. Cheap (string generation only).
 */
export function kernelSourcesHash(configs: readonly RuleConfig[] = spaceConfigs(), dtype: ComputeDtype = 'f32'): string {
  const h = createHash('sha256');
  h.update(`pit-studio tile database, tuner v${TUNER_VERSION}\n`);
  if (dtype !== 'f32') h.update(`dtype ${dtype}\n`);
  for (const c of configs) {
    for (const s of HASH_SHAPES) {
      if (familyOfConfig(c).illegalReason(c, s)) continue;
      for (const { program: p } of planPrograms(planVariant(s, c, TUNER_LAYOUTS))) h.update(`${p.label}\n${p.wgsl}\n`);
    }
  }
  return h.digest('hex');
}

const dtypeHashes = new Map<string, string>();

/**
 * The identity hash of the tile database of `dtype` on a device with `caps`: for f32 exactly `kernelSourcesHash()`
 * (the f32 families' space does not depend on the device, so existing f32 databases keep their hash); for f16
 * `kernelSourcesHash(spaceConfigs('f16', caps), 'f16')` — the f16 families list tensor-core tiles only where the
 * device has subgroup matrices, so the space, and with it the hash, depends on `caps`. Memoised per dtype and caps.
 */
export function tileDbHash(dtype: ComputeDtype = 'f32', caps?: DeviceCaps): string {
  if (dtype === 'f32') {
    let h = dtypeHashes.get('f32');
    if (h === undefined) dtypeHashes.set('f32', (h = kernelSourcesHash()));
    return h;
  }
  const key = `${dtype}|${JSON.stringify([caps?.shaderF16 ?? null, caps?.subgroups ?? null, caps?.subgroupSizes ?? null, caps?.subgroupMatrixConfigs ?? null])}`;
  let h = dtypeHashes.get(key);
  if (h === undefined) dtypeHashes.set(key, (h = kernelSourcesHash(spaceConfigs(dtype, caps), dtype)));
  return h;
}

/**
 * The dtype of a stored tile database, read off the families of its points (a database holds one dtype, see
 * `kernelSourcesHash`): the dtype of the first registered family among `families`; `f32` when none is registered or
 * the database has no points (the schema has no dtype column: the hash is the identity, this is for display).
 */
export function tileDbDtypeOf(families: readonly string[]): ComputeDtype {
  for (const f of families) if (isRegistered(f)) return dtypeOf(familyOf(f));
  return 'f32';
}

/**
 * Layouts the tuner treats as free: the tile database measures a kernel and its detection, not layout preparation
 * (which depends on the operator producing A, not on the configuration).
 */
export const TUNER_LAYOUTS = ['a', 'at'] as const;

/** Whether a stored database may be used for `adapter` with the current kernels; otherwise why not (one line). */
export function tileDbMismatch(db: TileDbKey, adapter: AdapterDescriptor, kernelHash: string): string | null {
  const a = db.adapter;
  const same = (['vendor', 'architecture', 'device', 'description', 'backend'] as const).every((f) => a[f] === adapter[f]);
  if (!same) return `it was tuned on another adapter (${[a.vendor, a.device, a.description].filter(Boolean).join(' / ')})`;
  if (db.kernelHash !== kernelHash) return `it was tuned with other kernel sources (hash ${db.kernelHash.slice(0, 12)}…, now ${kernelHash.slice(0, 12)}…)`;
  if (db.tunerVersion !== TUNER_VERSION) return `it was tuned by tuner v${db.tunerVersion} (now v${TUNER_VERSION})`;
  return null;
}

/** A configuration's prediction at a layer. */
export interface Prediction {
  kernelMs: number;
  detectMs: number;
  /** kernelMs + detectMs. */
  ms: number;
  /** Effective density of the configuration's micro-tile at the layer (null for dense). */
  density: number | null;
}

/** Whether a stored point's family is registered in this build (points of other families are left out). */
function isRegistered(family: string): boolean {
  return familyNames().includes(family);
}

/** Detection model key of a configuration (detection depends on the micro-tile only), or null without detection. */
function detectKey(c: RuleConfig): string | null {
  return familyOfConfig(c).detectKey(c);
}

/** The coverage entry a configuration needs at a layer of reduction length k (its family's micro-tile), null for dense. */
export function coverageShape(c: RuleConfig, k: number): string | null {
  return familyOfConfig(c).microTile(c, k);
}

const gridCache = new Map<string, { kernel: number; detect: number }>();

/**
 * Workgroups launched by a configuration's main kernel and by its detection at a shape, read from the program
 * descriptors (core/kernels), so the cost model follows whatever grid the kernels use. Memoised (the programs
 * generate WGSL text).
 */
export function launchedWorkgroups(c: RuleConfig, s: Shape): { kernel: number; detect: number } {
  const key = `${configId(c)}|${s.m}x${s.n}x${s.k}`;
  let g = gridCache.get(key);
  if (!g) {
    const size = (p: { workgroups: [number, number, number] }) => p.workgroups[0] * p.workgroups[1] * p.workgroups[2];
    const plan = familyOfConfig(c).plan(s, c);
    const det = plan.detect.at(-1);
    g = { kernel: size(plan.compute.at(-1)!), detect: det ? size(det) : 0 };
    if (gridCache.size > 10000) gridCache.clear();
    gridCache.set(key, g);
  }
  return g;
}

/** Kernel features of a configuration at a shape with the given per-block counts (its family's cost features). */
export function kernelFeatures(c: RuleConfig, s: Shape, counts: ArrayLike<number>): number[] {
  return familyOfConfig(c).kernelFeatures(c, s, counts, launchedWorkgroups(c, s).kernel);
}

/** Detection features of a sparse configuration at a shape with the given per-block counts. */
export function detectionFeatures(c: RuleConfig, s: Shape, counts: ArrayLike<number>): number[] {
  let appended = 0;
  for (let i = 0; i < counts.length; i++) appended += counts[i]!;
  return detectFeatures(launchedWorkgroups(c, s).detect, s.m * s.k, appended);
}

/** Parallel widths tried when fitting a database: powers of two up to 1024 workgroups per wave. */
export const PARALLEL_WIDTHS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/**
 * A tile database fitted for prediction: one kernel model per configuration, one detection model per micro-tile.
 * Failed points (ok = false or NaN time) are left out, as Triton's autotuner gives a failing config an infinite
 * cost; a configuration with no usable point has no model and is never predicted.
 */
export class TileModel {
  private readonly kernel = new Map<string, { config: RuleConfig; model: FittedModel }>();
  private readonly detect = new Map<string, FittedModel>();

  /** @param points the database's points (any order). */
  constructor(readonly points: readonly TilePoint[]) {
    const byConfig = new Map<string, { config: RuleConfig; obs: Observation[]; det: Observation[] }>();
    const byDetect = new Map<string, Observation[]>();
    for (const p of points) {
      if (!p.ok || !(p.kernelMs > 0) || !isRegistered(p.family)) continue;
      const config: RuleConfig = { family: p.family, microTile: p.microTile, tile: p.tile };
      const id = configId(config);
      let e = byConfig.get(id);
      if (!e) byConfig.set(id, (e = { config, obs: [], det: [] }));
      const s = { m: p.m, n: p.n, k: p.k };
      e.obs.push({ x: kernelFeatures(config, s, p.counts), ms: p.kernelMs, density: p.density, sparsity: p.sparsity });
      const dk = detectKey(config);
      if (dk !== null && p.detectMs > 0) {
        let d = byDetect.get(dk);
        if (!d) byDetect.set(dk, (d = []));
        d.push({ x: detectionFeatures(config, s, p.counts), ms: p.detectMs, density: p.density, sparsity: p.sparsity });
      }
    }
    const fitAll = (p: number) => {
      const kernel = new Map<string, { config: RuleConfig; model: FittedModel }>();
      const detect = new Map<string, FittedModel>();
      let sse = 0;
      for (const [id, e] of byConfig) {
        const f = familyOfConfig(e.config).costFeatures;
        const model = fitModel(f.names, e.obs, p, f.work);
        kernel.set(id, { config: e.config, model });
        sse += model.sse;
      }
      for (const [k, obs] of byDetect) {
        const model = fitModel(DETECT_FEATURES, obs, p, 2);
        detect.set(k, model);
        sse += model.sse;
      }
      return { kernel, detect, sse };
    };
    // The parallel width is a property of the device: the one that best explains every configuration at once.
    let best = fitAll(1);
    this.parallelism = 1;
    for (const p of PARALLEL_WIDTHS) {
      if (p === 1) continue;
      const fit = fitAll(p);
      if (fit.sse < best.sse * (1 - 1e-9)) {
        best = fit;
        this.parallelism = p;
      }
    }
    for (const [k, v] of best.kernel) this.kernel.set(k, v);
    for (const [k, v] of best.detect) this.detect.set(k, v);
  }

  /** Workgroups the device runs at once, as estimated from the database (see costmodel.ts, "Parallel width"). */
  readonly parallelism: number;

  /** Configurations that have a kernel model (and, if sparse, a detection model), in database order. */
  configs(): RuleConfig[] {
    return [...this.kernel.values()].map((e) => e.config).filter((c) => this.hasDetection(c));
  }

  /** Whether the configuration can be predicted. */
  has(c: RuleConfig): boolean {
    return this.kernel.has(configId(c)) && this.hasDetection(c);
  }

  /** Whether a configuration needs no detection, or its detection has a model. */
  private hasDetection(c: RuleConfig): boolean {
    const dk = detectKey(c);
    return dk === null || this.detect.has(dk);
  }

  /** The fitted kernel model of a configuration, if any (for reports and tests). */
  kernelModel(c: RuleConfig): FittedModel | undefined {
    return this.kernel.get(configId(c))?.model;
  }

  /** The fitted detection model of a sparse configuration's micro-tile, if any. */
  detectModel(c: RuleConfig): FittedModel | undefined {
    const dk = detectKey(c);
    return dk === null ? undefined : this.detect.get(dk);
  }

  /**
   * Predicted kernel and detection time of `c` at a layer of shape `s` whose micro-tile coverage is `cov` (the
   * entry for `coverageShape(c, s.k)`; ignored for dense).
   * @throws RangeError when the configuration has no model or a sparse one lacks its coverage.
   */
  predict(c: RuleConfig, s: Shape, cov?: MicroTileCoverage): Prediction {
    const km = this.kernel.get(configId(c));
    if (!km) throw new RangeError(`tile database has no measurement of ${configId(c)}`);
    const dk = detectKey(c);
    if (dk === null) {
      const kernelMs = predictModel(km.model, kernelFeatures(c, s, []), 1);
      return { kernelMs, detectMs: 0, ms: kernelMs, density: null };
    }
    if (!cov) throw new RangeError(`predicting ${configId(c)} needs the coverage of ${coverageShape(c, s.k)}`);
    const dm = this.detect.get(dk);
    if (!dm) throw new RangeError(`tile database has no detection measurement for ${dk}`);
    const counts = familyOfConfig(c).blockCounts(cov);
    const kernelMs = predictModel(km.model, kernelFeatures(c, s, counts), cov.density);
    const detectMs = predictModel(dm, detectionFeatures(c, s, counts), cov.density);
    return { kernelMs, detectMs, ms: kernelMs + detectMs, density: cov.density };
  }

  /**
   * The effective density below which sparse configuration `c` (kernel + detection) is predicted to beat `denseMs`
   * at shape `s`, assuming the non-zero micro-tiles spread evenly over the blocks (each block holds density × its
   * micro-tiles). Bisection on density, the prediction being non-decreasing in it.
   * @returns a density in [0, 1]: 0 when even an all-zero operand loses, 1 when even a dense one wins.
   */
  densityThreshold(c: RuleConfig, s: Shape, denseMs: number): number {
    const at = (d: number) => this.predict(c, s, uniformCoverage(c, s, d)).ms;
    if (at(0) >= denseMs) return 0;
    if (at(1) < denseMs) return 1;
    let lo = 0;
    let hi = 1;
    for (let i = 0; i < 30; i++) {
      const mid = (lo + hi) / 2;
      if (at(mid) < denseMs) lo = mid;
      else hi = mid;
    }
    return (lo + hi) / 2;
  }
}

/**
 * A synthetic coverage with every block at the same density `d` (counts rounded), for thresholds and tests.
 * Only the fields the cost model reads are meaningful (density, rowCounts, colCounts).
 */
export function uniformCoverage(c: RuleConfig, s: Shape, d: number): MicroTileCoverage {
  const label = coverageShape(c, s.k) ?? '1x1';
  const [h, w] = label.split('x').map(Number) as [number, number];
  const gridRows = Math.ceil(s.m / h);
  const gridCols = Math.ceil(s.k / w);
  const rowCounts = new Uint32Array(gridRows).fill(Math.round(d * gridCols));
  const colCounts = new Uint32Array(gridCols).fill(Math.round(d * gridRows));
  return {
    shape: label,
    grid: { m: s.m, k: s.k, shape: { h, w }, gridRows, gridCols, occupied: new Uint8Array(0) },
    density: d,
    effectiveDensity: d,
    rowCounts,
    colCounts,
    coveredElements: Math.round(d * s.m * s.k),
    coverageWaste: Number.NaN,
  };
}
