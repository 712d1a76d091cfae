/**
 * Builds an exported kernel set from a profiling run (`pit export`): per layer the chosen rule as a dispatch plan,
 * the dense fallback and the density threshold between them, one WGSL file per distinct kernel (the text the run
 * measured), small fixtures with reference outputs for `verify.mjs`, and the manifest (manifest.ts) tying it together.
 *
 * Kernel texts come from the run (what was measured); bindings, grids and buffer sizes come from the program
 * builders of core/kernels at the layer's shape, and the two must agree: a kernel whose recorded hash the current
 * builders no longer generate means the kernel sources changed since the run, and the export refuses (re-profile).
 * Pure: no file system, no database, no GPU. The caller reads the run and writes `files`.
 *
 * Static weight-pattern families (tile-wise, nm, hinm, bcsr-w: `sparseOperand: 'b'`) are refused: their plans bind
 * an index and packed weight built on the CPU from the layer's weight, which a kernel set (format v1) has no place for
 * (the run database does not keep weights, and a runtime would need the index beside the kernels). A layer whose
 * chosen variant is one of them makes the export fail with the layer, the variant and what to do instead.
 */
import { createHash } from 'node:crypto';
import { tileName } from '../../shaders/common.wgsl.ts';
import type { ALayout } from '../kernels/family.ts';
import type { KernelProgram } from '../kernels/program.ts';
import { compareOutputs, matmulErrorScale, referenceMatmul, transpose } from '../kernels/reference.ts';
import { BASELINE_FAMILY, familyOfConfig, familyOfVariant, programRoles } from '../kernels/registry.ts';
import { planPrograms, planVariant } from '../kernels/variants.ts';
import type { Shape } from '../pit/costmodel.ts';
import { configId, rulesFor, type RuleConfig } from '../pit/rules.ts';
import { coverageShape, type TileModel } from '../pit/tiledb.ts';
import { structuredOperand } from '../pit/tuner.ts';
import type { LayerResult, RunReport, VariantResult } from '../protocol.ts';
import {
  KERNEL_SET_FORMAT,
  KERNEL_SET_VERSION,
  type KernelRole,
  type KernelSetManifest,
  type ManifestBuffer,
  type ManifestFixture,
  type ManifestKernel,
  type ManifestLayer,
  type ManifestPlan,
} from './manifest.ts';
import { npyBytes } from './npy.ts';

/** A kernel as the run recorded it. */
export interface RecordedKernel {
  hash: string;
  label: string;
  wgsl: string;
}

/** What the export reads (the caller gets it from the run database). */
export interface ExportSource {
  report: RunReport;
  /** Every kernel a variant of a layer ran on an input (db/runs.ts getLayerKernels + getKernelWgsl); [] if none. */
  kernelsOf(input: number, layerIndex: number, variant: string): RecordedKernel[];
  /** A fitted tile database of the run's adapter and kernels, for the density thresholds; null to use the measurements. */
  tileModel: TileModel | null;
  tileDb: { id: number; kernelHash: string } | null;
  /** e.g. `PIT Studio 0.1.0`. */
  generator: string;
  /** ISO time of the export. */
  createdAt: string;
}

/** The manifest and every file of the set by relative path (text or bytes); manifest.json itself not included. */
export interface KernelSet {
  manifest: KernelSetManifest;
  files: Map<string, string | Uint8Array>;
}

/** The run cannot be exported as it is (incomplete, kernel sources changed, nothing verified…). */
export class ExportError extends Error {
  override name = 'ExportError';
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * The configuration a measured variant ran (its family parses the micro-tile and computation tile).
 * @throws ExportError when the variant's family is not registered or its tile name cannot be parsed.
 */
export function configOfVariant(v: Pick<VariantResult, 'name' | 'family' | 'microTile' | 'computeTile'>, k: number): RuleConfig {
  try {
    const family = familyOfVariant(v.family ?? v.name);
    return family.configOf(v, k);
  } catch (e) {
    throw new ExportError(`variant '${v.name}' has no exportable kernel: ${(e as Error).message}`);
  }
}

/** Layouts of A the layer's producer writes at no cost: im2col writes either (Conv); a MatMul/Gemm activation is row-major. */
function freeLayoutsOf(op: string): ALayout[] {
  return op === 'Conv' ? ['a', 'at'] : ['a'];
}

/** A step's program with its phase. */
interface PlannedProgram {
  phase: 'layout' | 'detect' | 'compute';
  program: KernelProgram;
}

/** Programs and buffers of a configuration at a shape: the same sequence `runVariant` times (core/kernels/variants.ts). */
function programsOf(c: RuleConfig, s: Shape, op: string): { programs: PlannedProgram[]; buffers: ManifestBuffer[]; detection: KernelProgram | null } {
  const plan = planVariant(s, c, freeLayoutsOf(op));
  return {
    programs: planPrograms(plan),
    buffers: [
      ...plan.operands.map((o): ManifestBuffer => ({ name: o.name, dtype: plan.dtype ?? 'f32', shape: o.shape, role: o.role })),
      ...plan.buffers.map((b): ManifestBuffer => ({ ...b })),
    ],
    detection: plan.detect.at(-1) ?? null,
  };
}

/** Role of a program in the manifest: its family or helper role, as registered. */
function roleOf(p: KernelProgram): KernelRole {
  if (programRoles().includes(p.family)) return p.family;
  throw new ExportError(`kernel '${p.label}' has an unknown role '${p.family}'`);
}

/** The kernels of the set, deduplicated by WGSL hash. */
class KernelTable {
  readonly byHash = new Map<string, ManifestKernel>();
  readonly texts = new Map<string, string>();

  /** Registers a program (its WGSL is `text`, which must hash to `hash`); returns its id. */
  add(p: KernelProgram, hash: string, text: string): string {
    let k = this.byHash.get(hash);
    if (!k) {
      const role = roleOf(p);
      const id = `${role}-${hash.slice(0, 8)}`;
      k = {
        id,
        file: `kernels/${id}.wgsl`,
        sha256: hash,
        label: p.label,
        role,
        entryPoint: 'main',
        workgroupSize: [...p.workgroupSize],
        bindings: p.bindings.map((b, i) => ({ binding: i, kind: b.kind })),
      };
      this.byHash.set(hash, k);
      this.texts.set(k.file, text);
    }
    return k.id;
  }
}

/** The plan of a configuration at a shape, registering its kernels. `texts` maps hash → recorded WGSL. */
function buildPlan(c: RuleConfig, variant: string, op: string, s: Shape, table: KernelTable, texts: Map<string, string>): ManifestPlan {
  const { programs, buffers, detection: detectProgram } = programsOf(c, s, op);
  const family = familyOfConfig(c);
  const rule = rulesFor(op, s, [c])[0];
  let detection: string | null = null;
  let kernel = '';
  const steps = programs.map(({ phase, program }) => {
    const hash = sha256(program.wgsl);
    const id = table.add(program, hash, texts.get(hash) ?? program.wgsl);
    if (program === detectProgram) detection = id;
    if (program.family === c.family) kernel = id;
    return {
      kernel: id,
      phase,
      buffers: program.bindings.map((b) => b.name),
      params: program.params ? [...program.params] : null,
      workgroups: [...program.workgroups] as [number, number, number],
      dispatchFormula: program.dispatchFormula,
    };
  });
  return {
    variant,
    rule: {
      family: c.family,
      axis: family.axis,
      microTile: family.microTile(c, s.k),
      computeTile: { bm: c.tile.bm, bn: c.tile.bn, bk: c.tile.bk, tm: c.tile.tm, tn: c.tile.tn, name: tileName(c.tile) },
      description: rule?.description ?? configId(c),
    },
    detection,
    kernel,
    buffers,
    steps,
  };
}

/** Hashes of every distinct program of a configuration at a shape. */
function programHashes(c: RuleConfig, s: Shape, op: string): string[] {
  return [...new Set(programsOf(c, s, op).programs.map((p) => sha256(p.program.wgsl)))].sort();
}

const totalMs = (v: VariantResult) => v.totalMs ?? v.ms + (Number.isFinite(v.detectMs) ? v.detectMs : 0) + (v.layoutMs ?? 0);
const verified = (v: VariantResult | undefined): v is VariantResult => !!v && v.ok && Number.isFinite(v.ms);

/**
 * Checks that the current program builders generate exactly the kernels the run recorded for a variant.
 * @throws ExportError naming the layer and variant when they differ or nothing was recorded.
 */
function checkRecorded(src: ExportSource, l: LayerResult, variant: string, c: RuleConfig): Map<string, string> {
  const recorded = src.kernelsOf(l.input, l.index, variant);
  if (!recorded.length) throw new ExportError(`layer ${l.name} (input ${l.input}): no kernel of variant ${variant} is recorded in run ${src.report.run.id}`);
  const want = programHashes(c, l, l.op);
  const have = [...new Set(recorded.map((r) => r.hash))].sort();
  if (want.join() !== have.join()) {
    throw new ExportError(
      `layer ${l.name} (input ${l.input}), variant ${variant}: the kernel sources changed since run ${src.report.run.id} ` +
        `(the run measured ${have.length} kernel(s) the current code does not generate identically); re-profile, then export`,
    );
  }
  return new Map(recorded.map((r) => [r.hash, r.wgsl]));
}

/** Fixture shapes to try, smallest first: M and N shrunk (keeping their value mod 4, which may select code paths), K kept last. */
function fixtureShapes(s: Shape): Shape[] {
  const small = (x: number, cap: number) => (x <= cap + 4 ? x : cap + (x % 4));
  const mf = small(s.m, 36);
  const nf = small(s.n, 68);
  const kf = small(s.k, 64);
  const out: Shape[] = [
    { m: mf, n: nf, k: kf },
    { m: mf, n: nf, k: s.k },
    { m: s.m, n: nf, k: s.k },
    { m: s.m, n: s.n, k: s.k },
  ];
  return out.filter((x, i) => out.findIndex((y) => y.m === x.m && y.n === x.n && y.k === x.k) === i);
}

/** Seed for a fixture's data, from its id. */
function seedOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * A fixture for a plan: the smallest shape whose programs hash exactly like the layer's, synthetic A with the
 * plan's micro-tile zeroed at the layer's density, random B, and the float64 CPU reference of C (plus the expected
 * detection index for sparse plans).
 */
function buildFixture(
  id: string,
  layerName: string,
  c: RuleConfig,
  variant: string,
  op: string,
  layerShape: Shape,
  density: number | null,
  table: KernelTable,
  files: Map<string, string | Uint8Array>,
): ManifestFixture {
  const want = programHashes(c, layerShape, op).join();
  const shape = fixtureShapes(layerShape).find((s) => programHashes(c, s, op).join() === want)!;
  const { m, n, k } = shape;
  const family = familyOfConfig(c);
  const pattern = family.microTile(c, k);
  const a = structuredOperand(m, k, pattern, density === null ? 0.5 : Math.min(0.99, Math.max(0, 1 - density)), seedOf(`A|${id}`));
  const b = structuredOperand(k, n, null, 0, seedOf(`B|${id}`));
  const ref = referenceMatmul(a, b, m, n, k);
  const tolerance = compareOutputs(ref, ref, { k, scale: matmulErrorScale(a, b, m, n, k) }).tolerance;
  // Fixture files: each kernel's own text is in kernels/, so the plan's kernels register with their generated text.
  const plan = buildPlan(c, variant, op, shape, table, new Map());
  const inputs: Record<string, string> = {};
  const expected: Record<string, string> = {};
  const put = (map: Record<string, string>, name: string, data: Float32Array | Uint32Array, dims: number[]) => {
    const path = `fixtures/${id}.${name}.npy`;
    files.set(path, npyBytes(data, dims));
    map[name] = path;
  };
  for (const o of plan.buffers.filter((x) => x.role === 'input' || x.role === 'weight')) {
    if (o.name === 'b') put(inputs, 'b', b, [k, n]);
    else if (o.name === 'a') put(inputs, 'a', a, [m, k]);
    else put(inputs, o.name, transpose(a, m, k), [k, m]);
  }
  put(expected, 'c', ref, [m, n]);
  const ix = family.referenceIndex(c, a, shape);
  if (ix) {
    put(expected, 'count', ix.count, [ix.count.length]);
    put(expected, 'index', ix.index, [ix.index.length]);
  }
  return { id, layer: layerName, kernels: [...new Set(plan.steps.map((s) => s.kernel))], shape, synthetic: true, tolerance, inputs, expected, plan };
}

/** The density of a plan's micro-tile on a layer, as the run recorded it (null for dense or when not recorded). */
function layerDensity(l: LayerResult, c: RuleConfig): number | null {
  const shape = coverageShape(c, l.k);
  return shape ? (l.microTiles.find((t) => t.shape === shape)?.density ?? null) : null;
}

/**
 * Builds the kernel set of a complete run.
 * @throws ExportError when the run is incomplete (the caller says which layers are missing first), has no profiled
 *   layer, or its kernels differ from what the current sources generate.
 */
export function buildKernelSet(src: ExportSource): KernelSet {
  const { report } = src;
  if (!report.run.complete) throw new ExportError(`run ${report.run.id} is incomplete (${report.run.status || 'running'}): profile the model to the end, then export`);
  // The loader and fixtures of a kernel set are f32 (.npy '<f4'): f16 runs are not exported yet.
  if ((report.run.dtype ?? 'f32') !== 'f32') throw new ExportError(`run ${report.run.id} computed in ${report.run.dtype}: only f32 runs can be exported for now`);
  const skipped = new Map<string, string>();
  for (const l of report.layers) if (l.skipped) skipped.set(l.name, l.skipped);
  // Kernel sets hold 2-D plans and fixtures; batched layers (attention per head, grouped convs) are listed, not exported.
  for (const l of report.layers) if (!l.skipped && (l.batch ?? 1) > 1) skipped.set(l.name, `batched layer (batch ${l.batch}): kernel sets export 2-D layers only`);
  const profiled = report.layers.filter((l) => !l.skipped && (l.batch ?? 1) <= 1);
  if (!profiled.length) throw new ExportError(`run ${report.run.id} has no profiled 2-D layer to export`);

  // One entry per layer and shape (inputs of different sizes give different shapes).
  const groups = new Map<string, LayerResult[]>();
  for (const l of profiled) {
    const key = `${l.index}|${l.m}x${l.n}x${l.k}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(l);
  }
  const table = new KernelTable();
  const files = new Map<string, string | Uint8Array>();
  const fixtures = new Map<string, ManifestFixture>();
  const layers: ManifestLayer[] = [];

  const fixtureByKernels = new Map<string, string>();
  /** The fixture verifying a plan's kernels: one per distinct set of kernels. */
  const fixtureFor = (l: LayerResult, c: RuleConfig, variant: string, density: number | null): string => {
    const key = programHashes(c, l, l.op).join();
    const known = fixtureByKernels.get(key);
    if (known) return known;
    const id = `f${fixtures.size + 1}-${c.family}`;
    fixtures.set(id, buildFixture(id, l.name, c, variant, l.op, l, density, table, files));
    fixtureByKernels.set(key, id);
    return id;
  };

  for (const group of groups.values()) {
    // The plan: the variant chosen on most inputs; ties go to the lowest mean measured time.
    const votes = new Map<string, LayerResult[]>();
    for (const l of group) {
      let v = votes.get(l.chosen);
      if (!v) votes.set(l.chosen, (v = []));
      v.push(l);
    }
    const meanMs = (ls: LayerResult[], name: string) => ls.reduce((s, l) => s + totalMs(l.variants.find((v) => v.name === name)!), 0) / ls.length;
    const [variant, chosenOn] = [...votes.entries()]
      .filter(([name, ls]) => ls.every((l) => verified(l.variants.find((v) => v.name === name))))
      .sort((x, y) => y[1].length - x[1].length || meanMs(x[1], x[0]) - meanMs(y[1], y[0]))[0] ?? [undefined, []];
    const l = chosenOn[0];
    if (!variant || !l) throw new ExportError(`layer ${group[0]!.name}: its chosen variant has no verified measurement`);
    const v = l.variants.find((x) => x.name === variant)!;
    const config = configOfVariant(v, l.k);
    const family = familyOfConfig(config);
    if (family.sparseOperand === 'b') {
      throw new ExportError(
        `layer ${l.name} (input ${l.input}): its chosen variant ${variant} runs on an index built from the layer's weight (static ${family.name} pattern), ` +
          `which kernel set format v${KERNEL_SET_VERSION} cannot carry; re-profile with --variants leaving out ${family.name} to export a dense or PIT plan for it`,
      );
    }
    const plan = buildPlan(config, variant, l.op, l, table, checkRecorded(src, l, variant, config));
    const density = layerDensity(l, config);
    let dense: ManifestPlan | null = null;
    let threshold: ManifestLayer['densityThreshold'] = null;
    const denseVariants = l.variants.filter((x) => familyOfVariant(x.family ?? x.name) === BASELINE_FAMILY && verified(x)).sort((x, y) => totalMs(x) - totalMs(y));
    const bestDense = (l.baseline ? denseVariants.find((x) => x.name === l.baseline) : undefined) ?? denseVariants[0];
    if (config.family !== BASELINE_FAMILY.name && bestDense) {
      const dc = configOfVariant(bestDense, l.k);
      dense = buildPlan(dc, bestDense.name, l.op, l, table, checkRecorded(src, l, bestDense.name, dc));
      fixtureFor(l, dc, bestDense.name, null);
      threshold = densityThreshold(src.tileModel, config, l, v, bestDense, density);
    }
    layers.push({
      name: l.name,
      index: l.index,
      op: l.op,
      shape: { m: l.m, n: l.n, k: l.k },
      inputs: group.map((x) => x.input),
      plan,
      dense,
      densityThreshold: threshold,
      measured: { ms: v.ms, detectMs: Number.isFinite(v.detectMs) ? v.detectMs : 0, denseMs: bestDense ? bestDense.ms : null, density },
      choices: group.map((x) => ({ input: x.input, variant: x.chosen })),
      fixture: fixtureFor(l, config, variant, density),
    });
  }
  for (const [path, text] of table.texts) files.set(path, text);
  const r = report.run;
  const manifest: KernelSetManifest = {
    format: KERNEL_SET_FORMAT,
    formatVersion: KERNEL_SET_VERSION,
    generator: src.generator,
    createdAt: src.createdAt,
    model: { path: r.model.path, sha256: r.model.sha256 },
    // The adapter's identity and timing (the manifest schema's fields), not the device capabilities a run also keeps.
    adapter: { vendor: r.adapter.vendor, architecture: r.adapter.architecture, device: r.adapter.device, description: r.adapter.description, backend: r.adapter.backend, timestampQuery: r.adapter.timestampQuery },
    run: { id: r.id, createdAt: r.createdAt, policy: r.policy?.policy ?? 'measure', inputs: r.inputs.length },
    tileDb: src.tileDb,
    kernels: [...table.byHash.values()],
    layers,
    skipped: [...skipped].map(([name, reason]) => ({ name, reason })),
    fixtures: [...fixtures.values()],
  };
  return { manifest, files };
}

/**
 * Density below which the sparse plan beats the best dense one. With a tile database: the cost model's crossing at
 * this shape (TileModel.densityThreshold) against the cheapest predicted dense tile. Otherwise from the run's own
 * measurements, assuming the sparse kernel's time proportional to density and detection constant:
 * d* = (dense − detection) / kernel × measured density, clamped to [0, 1].
 */
function densityThreshold(
  model: TileModel | null,
  c: RuleConfig,
  l: LayerResult,
  sparse: VariantResult,
  dense: VariantResult,
  density: number | null,
): ManifestLayer['densityThreshold'] {
  const microTile = familyOfConfig(c).microTile(c, l.k)!;
  if (model?.has(c)) {
    const denseConfigs = model.configs().filter((x) => x.family === BASELINE_FAMILY.name);
    let best = { ms: Infinity, id: '' };
    for (const d of denseConfigs) {
      const ms = model.predict(d, l).ms;
      if (ms < best.ms) best = { ms, id: configId(d) };
    }
    if (Number.isFinite(best.ms)) {
      return { value: model.densityThreshold(c, l, best.ms), microTile, source: 'tiledb', comparedWith: `${best.id} (predicted ${best.ms.toFixed(3)} ms)` };
    }
  }
  const det = Number.isFinite(sparse.detectMs) ? sparse.detectMs : 0;
  const d = Math.max(density ?? 1, 1e-3);
  const value = Math.min(1, Math.max(0, ((dense.ms - det) / Math.max(sparse.ms, 1e-9)) * d));
  return { value, microTile, source: 'measurements', comparedWith: `${dense.name} (measured ${dense.ms.toFixed(3)} ms)` };
}
