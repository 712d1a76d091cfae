/**
 * WGSL template of the direct grouped / depthwise convolution over its im2col rows: for every group (batch) b and
 * output pixel m, `C[b][m, 0..N) = Σ_k A[b][m, k] · B[b][k, 0..N)` with N = Cout/G outputs per group (1 for depthwise,
 * the channel multiplier) and K = (Cin/G)·kh·kw. A batched matmul tile of 16–128 columns over N = 1 computes mostly
 * padding; here one invocation computes one output row with its N ≤ 16 outputs in registers, so nothing is padded
 * along n. A is read transposed (`AT` [K, M] per group, which im2col writes at no cost), so neighbouring invocations
 * read neighbouring pixels (coalesced); every invocation of a workgroup reads the same weights B[b][k, j] (one
 * broadcast load each).
 *
 * Baked into the text: the workgroup size and N (the per-thread register tile). In the `params` uniform:
 * `{m, n, k, batch, sa, sb, _, _}` (batch strides of AT and B; 0 for an operand shared by every batch).
 */

/** Parameters of the direct template. */
export interface DirectConvWgslParams {
  /** Output rows (pixels) per workgroup = invocations per workgroup, 1–1024. */
  rows: number;
  /** N: outputs per row, kept in registers (1–16); the layer's N exactly. */
  n: number;
}

/** The largest N the direct kernel keeps in registers. */
export const DIRECT_MAX_N = 16;

/**
 * WGSL of the direct kernel. Bindings (group 0): 0 `AT` [batch, K, M] f32 read, 1 `B` [batch, K, N] f32 read, 2 `C`
 * [batch, M, N] f32 read_write (fully overwritten), 3 `P` uniform. Workgroup size `(rows, 1, 1)`; grid
 * `(ceil(M/rows), batch, 1)`.
 * @throws RangeError when rows or n is out of range.
 */
export function directConvWgsl(params: DirectConvWgslParams): string {
  const { rows, n } = params;
  if (!Number.isInteger(rows) || rows < 1 || rows > 1024) throw new RangeError(`direct: rows per workgroup must be an integer in [1, 1024], got ${rows}`);
  if (!Number.isInteger(n) || n < 1 || n > DIRECT_MAX_N) throw new RangeError(`direct: N must be an integer in [1, ${DIRECT_MAX_N}], got ${n}`);
  const j = Array.from({ length: n }, (_, i) => i);
  return `// PIT Studio: direct grouped/depthwise conv over its im2col rows, C[b][m, 0..${n}) = sum_k AT[b][k, m] * B[b][k, 0..${n}), fp32; ${rows} rows per workgroup, one row per invocation.
struct Params { m: u32, n: u32, k: u32, batch: u32, sa: u32, sb: u32, _p6: u32, _p7: u32 }

@group(0) @binding(0) var<storage, read> AT: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;

const ROWS = ${rows}u;
const TN = ${n}u; // outputs per row (N)

@compute @workgroup_size(${rows}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = wid.y;
  let m = wid.x * ROWS + lid.x;
  if (m >= P.m) { return; } // no barriers below: an early exit is safe
  let offA = b * P.sa;
  let offB = b * P.sb;
  let offC = (b * P.m + m) * TN;
${j.map((i) => `  var acc${i} = 0.0;`).join('\n')}
  for (var k = 0u; k < P.k; k++) {
    let a = AT[offA + k * P.m + m];
    let w0 = offB + k * TN;
${j.map((i) => `    acc${i} = fma(a, B[w0 + ${i}u], acc${i});`).join('\n')}
  }
${j.map((i) => `  C[offC + ${i}u] = acc${i};`).join('\n')}
}
`;
}
