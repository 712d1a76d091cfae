/**
 * WGSL template of the layout preparation some kernel families need: the transpose `Y[C, R] = X[R, C]ᵀ` (f32 or
 * f16, row-major), e.g. pit-k's `AT [K, M]` from a MatMul activation `A [M, K]`. A 16x16 tile is staged in workgroup
 * memory so that both the reads of X and the writes of Y are coalesced; the tile has one extra column so that the
 * column-wise reads of the transposed write hit distinct banks.
 */

/** Side of the square tile one transpose workgroup moves. */
export const TRANSPOSE_TILE = 16;

/**
 * WGSL of the transpose. Bindings (group 0): 0 `X` [R, C] read, 1 `Y` [C, R] read_write (both of `dtype`: f32, or
 * f16 for the f16 families, which needs `shader-f16`), 2 `P` uniform `{rows, cols, _, _}`. Workgroup size
 * `(16, 16, 1)`; grid `(ceil(C/16), ceil(R/16), 1)`. `batched`: X is [batch, R, C] and Y [batch, C, R], grid z =
 * batch (each batch transposed in place of its own matrix).
 */
export function transposeWgsl(batched = false, dtype: 'f32' | 'f16' = 'f32'): string {
  const t = TRANSPOSE_TILE;
  const ty = dtype;
  const o = batched ? 'base + ' : '';
  return `${dtype === 'f16' ? 'enable f16;\n' : ''}// PIT Studio: layout preparation Y[C,R] = transpose(X[R,C]), ${dtype === 'f16' ? 'f16' : 'fp32'} row-major, ${t}x${t} tiles${batched ? '; batched (grid z = batch)' : ''}.
struct Params { rows: u32, cols: u32, _a: u32, _b: u32 }

@group(0) @binding(0) var<storage, read> X: array<${ty}>;
@group(0) @binding(1) var<storage, read_write> Y: array<${ty}>;
@group(0) @binding(2) var<uniform> P: Params;

const T = ${t}u;
var<workgroup> tile: array<${ty}, ${t * (t + 1)}>;

@compute @workgroup_size(${t}, ${t}, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let r = wid.y * T + lid.y;
  let c = wid.x * T + lid.x;${batched ? '\n  let base = wid.z * P.rows * P.cols;' : ''}
  if (r < P.rows && c < P.cols) { tile[lid.y * (T + 1u) + lid.x] = X[${o}r * P.cols + c]; }
  workgroupBarrier();
  // Written transposed: thread (x, y) stores Y[wid.x*T + y, wid.y*T + x], neighbouring x along Y's rows.
  let yr = wid.x * T + lid.y;
  let yc = wid.y * T + lid.x;
  if (yr < P.cols && yc < P.rows) { Y[${o}yr * P.rows + yc] = tile[lid.x * (T + 1u) + lid.y]; }
}
`;
}
