/**
 * WGSL template of PIT's online index construction (detection; PIT §4.3, the role of SparTA pit_sm80
 * `csrc/convert_bcsr_forward_kernel.cu`, written afresh for WGSL).
 *
 * One template serves both matmul rules, because both index "row blocks of a row-major tensor X [R, C] whose
 * micro-tile `X[rb*h .. rb*h+h, j*w .. j*w+w)` (clipped at the edges) has a non-zero", per column block j:
 * - `detect-k` (pit-k, micro-tile `BM x 1` of A): X = AT [K, M], w = BM, h = 1; block j = row block mb of A, rows = k.
 * - `detect-m` (pit-m, micro-tile `1 x W` of A): X = A [M, K], w = W, h = 1; block j = k-chunk c, rows = m.
 * - `detect-n` (pit-n, micro-tile `W x 1` of B): X = Bᵀ [N, K], w = W, h = 1; block j = k-chunk c, rows = n.
 * - h > 1 groups h consecutive rows of X into one micro-tile (e.g. `32x32` of A: detect-k with w = 32, h = 32).
 * Output: `count[j]` and `index[j*RB + s]` for s < count[j], RB = ceil(R/h), each entry a row block of X. A non-zero
 * micro-tile is appended with atomics: the order of rows along a permutation-invariant axis does not matter, so
 * no sort or prefix sum is needed. `count` must be zero before the dispatch (the variant zero-fills it first).
 *
 * Work split: one workgroup of 256 threads scans a window of `TR` rows x `SPAN` columns of X (coalesced, 16-byte
 * loads when C is a multiple of 4), raising one flag per micro-tile in workgroup memory. It then numbers its
 * non-zero micro-tiles per column block with workgroup atomics, reserves each column block's run of slots with ONE
 * global `atomicAdd` (instead of one per micro-tile: up to TR/h times fewer global atomics on the same counters),
 * and writes the index entries. The element test is on the bits, `(bits(x) & 0x7fffffff) != 0`, so -0 counts as zero
 * and NaN (and ±Inf) as non-zero: a float comparison `x != 0.0` may be folded away for NaN by a driver that assumes
 * no NaNs (an all-NaN input then read as all-zero on lavapipe).
 *
 * Baked into the text: w, h, the window and the load width. In the `params` uniform:
 * `R, C, nBlocks, tilesX, rowBlocks` (tilesX = ceil(C / SPAN)).
 */

/** Invocations per workgroup of the detection kernel. */
export const DETECT_WORKGROUP = 256;

/** Elements of X one detection workgroup scans (16 per thread). */
const WINDOW_ELEMENTS = 4096;
/** Most micro-tile flags per workgroup (2048 u32 = 8 KiB of workgroup memory). */
const MAX_FLAGS = 2048;

/** The window of X one detection workgroup scans: `rows x span` elements, `rows % h == 0`, `span % w == 0`. */
export interface DetectWindow {
  rows: number;
  span: number;
}

/**
 * The detection window for micro-tile extents `w` (along X's rows) and `h` (rows of X): span = the largest
 * multiple of w up to 256 (up to 32 when w < 32; w itself when w is wider); rows = a multiple of h bringing the
 * window near 4096 elements with at most 2048 micro-tiles.
 * @throws RangeError when w or h is not a positive integer.
 */
export function detectWindow(w: number, h = 1): DetectWindow {
  if (!Number.isInteger(w) || w < 1) throw new RangeError(`detection: micro-tile width must be a positive integer, got ${w}`);
  if (!Number.isInteger(h) || h < 1) throw new RangeError(`detection: micro-tile height must be a positive integer, got ${h}`);
  // Narrow micro-tiles get a narrow, tall window: more rows per column block means fewer global atomics (one per
  // column block per window) and longer runs of consecutive index entries. 32 floats still make 128-byte rows.
  const minSpan = w >= 32 ? DETECT_WORKGROUP : 32;
  const span = w > minSpan ? w : w * Math.floor(minSpan / w);
  const segCols = span / w;
  let rowTiles = Math.max(1, Math.floor(WINDOW_ELEMENTS / (span * h)));
  rowTiles = Math.max(1, Math.min(rowTiles, Math.floor(MAX_FLAGS / segCols)));
  return { rows: rowTiles * h, span };
}

/**
 * Segments (micro-tiles along a row of X) one detection workgroup examines: `span / w` of `detectWindow(w)`.
 * Kept for callers of the first version (one row per workgroup).
 */
export function segmentsPerWorkgroup(w: number): number {
  return detectWindow(w).span / w;
}

/** Parameters of the detection template. */
export interface DetectWgslParams {
  /** Micro-tile extent along X's contiguous axis (BM for detect-k, W for detect-m), >= 1. */
  w: number;
  /** Micro-tile extent across X's rows (default 1). */
  h?: number;
  /** Which rule it indexes, for the header comment only ('detect-k', 'detect-m' or 'detect-n'). */
  family: 'detect-k' | 'detect-m' | 'detect-n';
  /** The micro-tile as written in its operand's terms (e.g. '32x1' of A), for the header comment. */
  microTile: string;
  /** X read as `array<vec4<f32>>` (valid only when C is a multiple of 4). Default false. */
  vec4?: boolean;
  /**
   * The batched form: grid z = batch; X is [batch, R, C] (batch stride `sx` in the uniform, which grows to
   * `{rows, cols, nBlocks, tilesX, rowBlocks, sx}`), and batch b's counts and index are at `b*nBlocks` and
   * `b*nBlocks*RB`. Default false: the 2-D text, unchanged.
   */
  batched?: boolean;
  /**
   * Element type of X (default f32). `f16` (the f16 families): X holds halves packed two per u32 word, bound as
   * `array<u32>` (or `array<vec4<u32>>`, 8 halves, when `vec4` and C is a multiple of 8); a half is non-zero when
   * `bits & 0x7fff != 0` (NaN and ±Inf count, -0 does not), as for f32.
   */
  dtype?: 'f32' | 'f16';
}

/** The f16 scan of X (packed halves): 8 halves per 16-byte load when `vec`, else one half per element. */
function f16Scan(w: number, vec: boolean): string {
  if (vec) {
    const test =
      w % 8 === 0
        ? 'if (any((v & vec4<u32>(0x7fff7fffu)) != vec4<u32>())) { atomicStore(&flags[segRow + lc / W], 1u); }'
        : 'for (var q = 0u; q < 8u; q++) { if (((v[q / 2u] >> ((q % 2u) * 16u)) & 0x7fffu) != 0u) { atomicStore(&flags[segRow + (lc + q) / W], 1u); } }';
    return `  for (var e = lid.x; e < TR * SPAN / 8u; e += NT) {
    let lr = e / (SPAN / 8u);
    let lc = (e % (SPAN / 8u)) * 8u;
    let r = r0 + lr;
    let c = c0 + lc;
    if (r < P.rows && c < P.cols) {
      let v = X[(r * P.cols + c) / 8u];
      let segRow = (lr / H) * SC;
      ${test}
    }
  }`;
  }
  return `  for (var e = lid.x; e < TR * SPAN; e += NT) {
    let lr = e / SPAN;
    let lc = e % SPAN;
    let r = r0 + lr;
    let c = c0 + lc;
    if (r < P.rows && c < P.cols) {
      let i = r * P.cols + c;
      if (((X[i / 2u] >> ((i % 2u) * 16u)) & 0x7fffu) != 0u) { atomicStore(&flags[(lr / H) * SC + lc / W], 1u); }
    }
  }`;
}

/**
 * WGSL of the detection kernel. Bindings (group 0): 0 `X` [R,C] f32 read, 1 `count` [nBlocks] atomic u32
 * read_write, 2 `index` [nBlocks*RB] u32 read_write, 3 `P` uniform `{rows, cols, nBlocks, tilesX, rowBlocks}`.
 * Workgroup size 256; a 2-D grid of at least `tilesX * ceil(R / window.rows)` workgroups, linearised as
 * `x + y * gridX`.
 * @throws RangeError when w or h is not a positive integer.
 */
export function detectWgsl(params: DetectWgslParams): string {
  const { w } = params;
  const h = params.h ?? 1;
  const win = detectWindow(w, h);
  const segCols = win.span / w;
  const segRows = win.rows / h;
  const nSeg = segCols * segRows;
  const f16 = params.dtype === 'f16';
  const batched = params.batched ?? false;
  // The f16 families are 2-D only (core/kernels/f16.ts f16ShapeProblem): no batched f16 scan.
  if (f16 && batched) throw new RangeError('detection of f16 data is 2-D only (no batched form)');
  const vec = (params.vec4 ?? false) && win.span % (f16 ? 8 : 4) === 0;
  const ox = batched ? 'xB + ' : '';
  const scan = f16
    ? f16Scan(w, vec)
    : vec
    ? `  for (var e = lid.x; e < TR * SPAN / 4u; e += NT) {
    let lr = e / (SPAN / 4u);
    let lc = (e % (SPAN / 4u)) * 4u;
    let r = r0 + lr;
    let c = c0 + lc;
    if (r < P.rows && c < P.cols) {
      let v = X[(${ox}r * P.cols + c) / 4u];
      let segRow = (lr / H) * SC;
      ${
        w % 4 === 0
          ? 'if (any((bitcast<vec4<u32>>(v) & vec4<u32>(0x7fffffffu)) != vec4<u32>())) { atomicStore(&flags[segRow + lc / W], 1u); }'
          : 'for (var q = 0u; q < 4u; q++) { if ((bitcast<u32>(v[q]) & 0x7fffffffu) != 0u) { atomicStore(&flags[segRow + (lc + q) / W], 1u); } }'
      }
    }
  }`
    : `  for (var e = lid.x; e < TR * SPAN; e += NT) {
    let lr = e / SPAN;
    let lc = e % SPAN;
    let r = r0 + lr;
    let c = c0 + lc;
    if (r < P.rows && c < P.cols && (bitcast<u32>(X[${ox}r * P.cols + c]) & 0x7fffffffu) != 0u) { atomicStore(&flags[(lr / H) * SC + lc / W], 1u); }
  }`;
  return `// PIT Studio: ${params.family} detection of micro-tile ${params.microTile}: row blocks of ${h} of X [R,C]${f16 ? ' (f16)' : ''} with a non-zero in each ${w}-wide column block${batched ? '; batched (grid z = batch)' : ''}.
struct Params { rows: u32, cols: u32, nBlocks: u32, tilesX: u32, rowBlocks: u32${batched ? ', sx: u32' : ''} }

@group(0) @binding(0) var<storage, read> X: ${f16 ? (vec ? 'array<vec4<u32>>' : 'array<u32>') : vec ? 'array<vec4<f32>>' : 'array<f32>'};
@group(0) @binding(1) var<storage, read_write> count: array<atomic<u32>>;
@group(0) @binding(2) var<storage, read_write> index: array<u32>;
@group(0) @binding(3) var<uniform> P: Params;

const W = ${w}u; // micro-tile extent along X's rows
const H = ${h}u; // micro-tile extent across X's rows
const SPAN = ${win.span}u; // window columns
const TR = ${win.rows}u; // window rows
const SC = ${segCols}u; // micro-tiles per window row
const NSEG = ${nSeg}u; // micro-tiles per window
const NT = ${DETECT_WORKGROUP}u;

// Per micro-tile of the window: 0 = empty, then 1 = non-zero, then (local slot + 1).
var<workgroup> flags: array<atomic<u32>, ${nSeg}>;
var<workgroup> colCount: array<atomic<u32>, ${segCols}>;
var<workgroup> colBase: array<u32, ${segCols}>;

@compute @workgroup_size(${DETECT_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let lin = wid.x + wid.y * nwg.x;
  let tilesY = (P.rows + TR - 1u) / TR;
  if (lin >= P.tilesX * tilesY) { return; } // workgroup-uniform: padding of the 2-D grid
  let tileY = lin / P.tilesX;
  let tileX = lin % P.tilesX;
  let r0 = tileY * TR;
  let c0 = tileX * SPAN;${batched ? '\n  let xB = wid.z * P.sx; // batch bases: X, counts, index\n  let cB = wid.z * P.nBlocks;\n  let iB = cB * P.rowBlocks;' : ''}
  for (var e = lid.x; e < NSEG; e += NT) { atomicStore(&flags[e], 0u); }
  for (var e = lid.x; e < SC; e += NT) { atomicStore(&colCount[e], 0u); }
  workgroupBarrier();
${scan}
  workgroupBarrier();
  // Number the non-zero micro-tiles of each column block (any order: the axis is permutation invariant).
  for (var e = lid.x; e < NSEG; e += NT) {
    if (atomicLoad(&flags[e]) != 0u) {
      let slot = atomicAdd(&colCount[e % SC], 1u);
      atomicStore(&flags[e], slot + 1u);
    }
  }
  workgroupBarrier();
  // One global append per column block: reserve its run of slots.
  for (var j = lid.x; j < SC; j += NT) {
    let n = atomicLoad(&colCount[j]);
    let blockJ = tileX * SC + j;
    var b = 0u;
    if (n > 0u && blockJ < P.nBlocks) { b = atomicAdd(&count[${batched ? 'cB + ' : ''}blockJ], n); }
    colBase[j] = b;
  }
  workgroupBarrier();
  for (var e = lid.x; e < NSEG; e += NT) {
    let f = atomicLoad(&flags[e]);
    let blockJ = tileX * SC + e % SC;
    if (f != 0u && blockJ < P.nBlocks) {
      index[${batched ? 'iB + ' : ''}blockJ * P.rowBlocks + colBase[e % SC] + f - 1u] = tileY * (TR / H) + e / SC;
    }
  }
}
`;
}
