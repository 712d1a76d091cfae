/**
 * WGSL template of the dense tiled matmul `C[M,N] = A[M,K] · B[K,N]` (fp32, all row-major): the baseline every PIT
 * variant is compared with. Classic two-level tiling (as in ONNX Runtime Web's and TF.js's WebGPU matmuls): a
 * workgroup stages `BM x BK` of A and `BK x BN` of B in workgroup memory, each thread accumulates a `TM x TN`
 * register tile. Ragged shapes are handled by zero padding in the loads and bounds checks in the stores.
 *
 * Baked into the text (so the pipeline cache key covers them): the computation tile. Passed in the `params`
 * uniform: `M, N, K` (one pipeline serves every shape).
 */
import {
  accDecls,
  accName,
  accStores,
  tileConsts,
  tileInnerProduct,
  tileName,
  tileStorage,
  validateComputeTile,
  type ComputeTile,
} from './common.wgsl.ts';

/** Parameters of the dense template. */
export interface DenseMatmulWgslParams {
  tile: ComputeTile;
}

/**
 * WGSL of the dense matmul. Bindings (group 0): 0 `A` [M,K] f32 read, 1 `B` [K,N] f32 read, 2 `C` [M,N] f32
 * read_write, 3 `P` uniform `{m, n, k, _}` (u32). Workgroup size `(BN/TN, BM/TM, 1)`; grid `(ceil(N/BN), ceil(M/BM), 1)`.
 * @throws RangeError when the tile is invalid (see `validateComputeTile`).
 */
export function denseMatmulWgsl(params: DenseMatmulWgslParams): string {
  const t = params.tile;
  validateComputeTile(t);
  return `// PIT Studio: dense matmul C[M,N] = A[M,K] * B[K,N], fp32 row-major; computation tile ${tileName(t)}.
struct Params { m: u32, n: u32, k: u32, _pad: u32 }

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;

${tileConsts(t, true)}

${tileStorage(t, true)}

@compute @workgroup_size(${t.bn / t.tn}, ${t.bm / t.tm}, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let tx = lid.x;
  let ty = lid.y;
  let tid = ty * TX + tx;
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
${accDecls(t)}
  for (var k0 = 0u; k0 < P.k; k0 += BK) {
    // A tile, read along k (coalesced), stored k-major so the inner product reads TM rows with one index.
    for (var e = tid; e < BM * BK; e += NT) {
      let r = e / BK;
      let c = e % BK;
      let gr = row0 + r;
      let gk = k0 + c;
      var v = 0.0;
      if (gr < P.m && gk < P.k) { v = A[gr * P.k + gk]; }
      As[c * AS + r] = v;
    }
    for (var e = tid; e < BK * BN; e += NT) {
      let r = e / BN;
      let c = e % BN;
      let gk = k0 + r;
      let gc = col0 + c;
      var v = 0.0;
      if (gk < P.k && gc < P.n) { v = B[gk * P.n + gc]; }
      Bs[e] = v;
    }
    workgroupBarrier();
${tileInnerProduct(t)}
    workgroupBarrier();
  }
${accStores(
  t,
  (i) => [`{ let row = row0 + ty + ${i}u * TY; if (row < P.m) {`, `} }`],
  (i, j, col) => `{ let col = ${col}; if (col < P.n) { C[row * P.n + col] = ${accName(i, j)}; } }`,
)}
}
`;
}
