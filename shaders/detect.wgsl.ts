/**
 * WGSL template of PIT's online index construction (detection; PIT §4.3, the role of SparTA pit_sm80
 * `csrc/convert_bcsr_forward_kernel.cu`, written afresh for WGSL).
 *
 * One template serves both matmul rules, because both index "rows of a row-major tensor X [R, C] whose segment
 * `X[r, j*w .. min((j+1)*w, C))` has a non-zero", per column block j:
 * - `detect-k` (pit-k, micro-tile `BM x 1` of A): X = AT [K, M], w = BM; block j = row block mb of A, rows r = k.
 * - `detect-m` (pit-m, micro-tile `1 x W` of A): X = A [M, K], w = W; block j = k-chunk c, rows r = m.
 * Output: `count[j]` and `index[j*R + s]` for s < count[j]. A non-zero segment is appended with `atomicAdd` on
 * `count[j]`: the order of rows along a permutation-invariant axis does not matter, so no sort or prefix sum is
 * needed. `count` must be zero before the dispatch (the variant zero-fills it first).
 *
 * Work split: one workgroup reads `TPW = max(1, floor(256 / w))` consecutive segments of one row of X, 256 threads
 * reading consecutive floats (coalesced), raising a per-segment flag in workgroup memory; then one thread per
 * non-zero segment appends. The element test is `x != 0.0`, so -0 counts as zero and NaN as non-zero.
 *
 * Baked into the text: w (the micro-tile extent along X's contiguous axis). In the `params` uniform:
 * `R, C, nBlocks, groupsPerRow` (groupsPerRow = ceil(nBlocks / TPW)).
 */

/** Invocations per workgroup of the detection kernel. */
export const DETECT_WORKGROUP = 256;

/** Segments (micro-tiles) one detection workgroup examines: `max(1, floor(256 / w))`. */
export function segmentsPerWorkgroup(w: number): number {
  return Math.max(1, Math.floor(DETECT_WORKGROUP / w));
}

/** Parameters of the detection template. */
export interface DetectWgslParams {
  /** Micro-tile extent along X's contiguous axis (BM for detect-k, W for detect-m), >= 1. */
  w: number;
  /** Which rule it indexes, for the header comment only ('detect-k' or 'detect-m'). */
  family: 'detect-k' | 'detect-m';
  /** The micro-tile as written in [M, K] terms (e.g. '32x1'), for the header comment. */
  microTile: string;
}

/**
 * WGSL of the detection kernel. Bindings (group 0): 0 `X` [R,C] f32 read, 1 `count` [nBlocks] atomic u32
 * read_write, 2 `index` [nBlocks*R] u32 read_write, 3 `P` uniform `{rows, cols, nBlocks, groupsPerRow}`.
 * Workgroup size 256; a 2-D grid of at least `R * groupsPerRow` workgroups, linearised as `x + y * gridX`.
 * @throws RangeError when w is not a positive integer.
 */
export function detectWgsl(params: DetectWgslParams): string {
  const { w } = params;
  if (!Number.isInteger(w) || w < 1) throw new RangeError(`${params.family}: segment width must be a positive integer, got ${w}`);
  const tpw = segmentsPerWorkgroup(w);
  return `// PIT Studio: ${params.family} detection of micro-tile ${params.microTile}: rows of X [R,C] with a non-zero in each ${w}-wide column block.
struct Params { rows: u32, cols: u32, nBlocks: u32, groupsPerRow: u32 }

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> count: array<atomic<u32>>;
@group(0) @binding(2) var<storage, read_write> index: array<u32>;
@group(0) @binding(3) var<uniform> P: Params;

const WSEG = ${w}u; // micro-tile extent along X's rows
const TPW = ${tpw}u; // segments per workgroup
const NT = ${DETECT_WORKGROUP}u;

var<workgroup> flags: array<atomic<u32>, ${tpw}>;

@compute @workgroup_size(${DETECT_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let lin = wid.x + wid.y * nwg.x;
  if (lin >= P.rows * P.groupsPerRow) { return; } // workgroup-uniform: padding of the 2-D grid
  let r = lin / P.groupsPerRow;
  let j0 = (lin % P.groupsPerRow) * TPW;
  for (var e = lid.x; e < TPW; e += NT) { atomicStore(&flags[e], 0u); }
  workgroupBarrier();
  let c0 = j0 * WSEG;
  let rowBase = r * P.cols;
  for (var e = lid.x; e < TPW * WSEG; e += NT) {
    let col = c0 + e;
    if (col < P.cols && X[rowBase + col] != 0.0) { atomicStore(&flags[e / WSEG], 1u); }
  }
  workgroupBarrier();
  for (var e = lid.x; e < TPW; e += NT) {
    let j = j0 + e;
    if (j < P.nBlocks && atomicLoad(&flags[e]) != 0u) {
      let s = atomicAdd(&count[j], 1u); // append: order along the invariant axis does not matter
      index[j * P.rows + s] = r;
    }
  }
}
`;
}
