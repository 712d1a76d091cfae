/**
 * The `KernelFamily` skeleton the static weight-pattern families (tile-wise, nm, hinm, bcsr-w) share: none is tuned
 * or detected (its index is built on the CPU from the layer's weight at plan time, `static-pattern.ts`), so each
 * plan is one compute program over uploaded index arrays, with no counts, no micro-tile and no reference index. A
 * family module supplies only what is its own (`StaticFamilySpec`): its name and summary, how it packs the weight,
 * its WGSL and label, which computation tiles it can run, its describe text and which layers it applies to.
 *
 * The program every such family dispatches: bindings `a` [M,K] or `at` [K,M] f32 (the family's `aLayout`), then the
 * index arrays in the order `indexArrays` lists them (read-only), `c` [M,N] f32 (fully overwritten), `params`
 * uniform `[M, N, K, 0]`; workgroup size `(BN/TN, BM/TM, 1)`; grid `(ceil(M/BM), column tiles, 1)`.
 */
import { tileName, isVec4Tile, validateComputeTile, type ComputeTile } from '../../shaders/common.wgsl.ts';
import type { LayerPattern } from '../prune/types.ts';
import type { ALayout, FamilyConfig, KernelFamily, WeightFacts } from './family.ts';
import { ceilDiv, grid, M, type GridTerm } from './grid.ts';
import { makeProgram, type KernelProgram } from './program.ts';
import { shapeVars, validateShape, type MatmulShape } from './shape.ts';
import { timed, uploaded, weightOf } from './static-pattern.ts';
import { parseTileName } from './tiles.ts';

/** The layer a plan builds its index for: its `pit.prune` pattern, if any, and its name for messages. */
export interface StaticLayer {
  pattern?: LayerPattern;
  /** The layer's node name, `(unnamed)` when the plan context names none. */
  name: string;
}

/** A family's main kernel at one shape: the shared program builder completes it (bindings, grid, params). */
export interface StaticKernel {
  /** Label without the ` v4` suffix, which is added when `vecGlobal` holds. */
  label: string;
  /** Whether the WGSL uses 16-byte global accesses (the family decides from the shape). */
  vecGlobal: boolean;
  wgsl: string;
  /** The grid's y extent: the layer's column tiles (a constant of the plan, or a term over N). */
  columnTiles: GridTerm;
}

/** A layer a static family applies to, by computation tile (the skeleton turns it into a `WeightCandidate`). */
export interface StaticCandidate {
  tile: ComputeTile;
  /** Fraction 0–1 of the weight's multiply-adds the kernel does (each family module defines it). */
  effectiveDensity: number;
  /** One line: where the index comes from and what it skips. */
  source: string;
}

/** What a static weight-pattern family is beyond the shared skeleton. `Ix` is its CPU index (packed weight included). */
export interface StaticFamilySpec<Ix> {
  name: string;
  /** `KernelFamily.summary`. */
  summary: string;
  /** `KernelFamily.helperRoles`: `transpose` when it reads `at`. */
  helperRoles: readonly string[];
  /** The layout of A its kernel binds. */
  aLayout: ALayout;
  /** The computation tiles it chooses; stored variants' tile names are parsed against them, the first the fallback. */
  knownTiles: readonly ComputeTile[];
  /** Why its template cannot run `tile` (`KernelFamily.illegalReason`; the shape plays no part), or null. */
  tileProblem(tile: ComputeTile): string | null;
  /**
   * Builds the index and packed weight from B [K, N] for computation tile `tile` (timed as the plan's `indexMs`).
   * @throws RangeError or WeightPatternError when B or the layer's pattern does not fit.
   */
  buildIndex(b: Float32Array, s: MatmulShape, tile: ComputeTile, layer: StaticLayer): Ix;
  /** The index's arrays to upload, keyed by buffer name in binding order (they bind after A). */
  indexArrays(ix: Ix): Record<string, Uint32Array | Float32Array>;
  /** Its main kernel for the index at shape `s`. */
  kernel(s: MatmulShape, tile: ComputeTile, ix: Ix): StaticKernel;
  /** `describe` after `op: ` (the operator prefix, with ` (im2col)` for Conv, is shared). */
  rule(tile: ComputeTile): string;
  /**
   * `KernelFamily.weightCandidates` by computation tile.
   * @throws WeightPatternError when the layer's metadata declares this family's pattern and the weight does not fit.
   */
  candidates(s: MatmulShape, w: WeightFacts): StaticCandidate[];
}

/** `validateComputeTile`'s message for an invalid tile, or null. */
export function invalidTileReason(tile: ComputeTile): string | null {
  try {
    validateComputeTile(tile);
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}

/** Why `tile` cannot take the vec4 path (`family` names it in the message), or null: valid, TM, TN, BK multiples of 4. */
export function vec4TileProblem(tile: ComputeTile, family: string): string | null {
  const invalid = invalidTileReason(tile);
  if (invalid) return invalid;
  if (!isVec4Tile(tile)) return `${family} needs TM, TN and BK multiples of 4, got ${tileName(tile)}`;
  return null;
}

/**
 * The program of a static family's kernel (bindings, grid and params as in the module comment).
 * @throws RangeError on an invalid shape.
 */
export function staticProgram(family: string, aLayout: ALayout, s: MatmulShape, tile: ComputeTile, indexNames: readonly string[], k: StaticKernel): KernelProgram {
  validateShape(s);
  return makeProgram(
    {
      family,
      label: `${k.label}${k.vecGlobal ? ' v4' : ''}`,
      wgsl: k.wgsl,
      bindings: [
        { name: aLayout, kind: 'read-only-storage' },
        ...indexNames.map((name) => ({ name, kind: 'read-only-storage' as const })),
        { name: 'c', kind: 'storage' },
        { name: 'params', kind: 'uniform' },
      ],
      workgroupSize: [tile.bn / tile.tn, tile.bm / tile.tm, 1],
      grid: grid(ceilDiv(M, tile.bm), k.columnTiles, 1),
      params: [s.m, s.n, s.k, 0],
    },
    shapeVars(s),
  );
}

/** A static weight-pattern family from its spec (see the module comment). */
export function staticFamily<Ix>(spec: StaticFamilySpec<Ix>): KernelFamily {
  const config = (tile: ComputeTile): FamilyConfig => ({ family: spec.name, microTile: null, tile: { ...tile } });
  return {
    name: spec.name,
    axis: 'k',
    sparseOperand: 'b',
    summary: spec.summary,
    helperRoles: spec.helperRoles,
    defaultOn: true,
    // The index comes from a layer's weight: nothing to tune or measure without one.
    tuningConfigs: () => [],
    layerConfigs: () => [],
    illegalReason: (c) => spec.tileProblem(c.tile),
    microTile: () => null,
    blockCounts: () => [],
    plan(s, c, ctx) {
      validateShape(s);
      const reason = spec.tileProblem(c.tile);
      if (reason) throw new RangeError(reason);
      const b = weightOf(spec.name, s, ctx);
      const { value: ix, ms } = timed(() => spec.buildIndex(b, s, c.tile, { pattern: ctx?.pattern, name: ctx?.layer ?? '(unnamed)' }));
      const arrays = spec.indexArrays(ix);
      const { buffers, uploads } = uploaded(arrays);
      return {
        aLayout: spec.aLayout,
        buffers: [...buffers, { name: 'c', dtype: 'f32', shape: [s.m, s.n], role: 'output' }],
        detect: [],
        compute: [staticProgram(spec.name, spec.aLayout, s, c.tile, Object.keys(arrays), spec.kernel(s, c.tile, ix))],
        uploads,
        indexMs: ms,
        counts: null,
      };
    },
    costFeatures: { names: ['1', 'G', 'U'], work: 1 },
    // Not tuned (no tile database point has these families); U is the dense upper bound of tile-steps.
    kernelFeatures: (c, s, _counts, g) => [1, g, Math.ceil(s.n / c.tile.bn) * Math.ceil(s.m / c.tile.bm) * Math.ceil(s.k / c.tile.bk)],
    detectKey: () => null,
    variantName: () => spec.name,
    describe: (op, c) => `${op}${op === 'Conv' ? ' (im2col)' : ''}: ${spec.rule(c.tile)}`,
    configOf: (v) => config(parseTileName(v.computeTile, spec.knownTiles, spec.knownTiles[0]!)),
    referenceIndex: () => null,
    weightCandidates: (s, w) => spec.candidates(s, w).map((x) => ({ config: config(x.tile), effectiveDensity: x.effectiveDensity, source: x.source })),
  };
}
