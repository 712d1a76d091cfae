/**
 * WGSL template of the dense tiled matmul `C[M,N] = A[M,K] · B[K,N]` (fp32, all row-major): the baseline every PIT
 * variant is compared with. Classic two-level tiling (as in ONNX Runtime Web's and TF.js's WebGPU matmuls): a
 * workgroup stages `BM x BK` of A and `BK x BN` of B in workgroup memory, each thread accumulates a `TM x TN`
 * register tile. Ragged shapes are handled by zero padding in the loads and bounds checks in the stores.
 *
 * Baked into the text (so the pipeline cache key covers them): the computation tile. Passed in the `params`
 * uniform: `M, N, K` (one pipeline serves every shape).
 */
import { accDecls, isVec4Tile, tileConsts, tileName, tileStorage, validateComputeTile, vec4ThreadIds, vec4TileDecls, type ComputeTile } from './common.wgsl.ts';
import {
  aBlockTranspose,
  BATCH_BASE_DECLS,
  batchBaseLets,
  batchBases,
  bSlice,
  matmulMain,
  matmulParamsStruct,
  SCALAR_THREAD_IDS,
  scalarARows,
  scalarBRows,
  scalarRowStores,
  scalarSliceLoop,
  vec4Accessors,
  vec4RowStores,
  vec4SliceLoop,
} from './matmul-snippets.wgsl.ts';

// The shared snippets once lived here: re-exported for the modules that import them from this one.
export {
  aBlockTranspose,
  batchBases,
  BATCH_BASE_DECLS,
  bSlice,
  matmulParamsStruct,
  segmentLoader,
  segmentStore,
  stridedSlots,
} from './matmul-snippets.wgsl.ts';

/** Parameters of the dense template. */
export interface DenseMatmulWgslParams {
  tile: ComputeTile;
  /**
   * Global memory accessed as 16-byte vectors (vec4 path only): A and B bound as `array<vec4<f32>>`, C written as
   * vectors. Valid only when K and N are multiples of 4 (then every row of A, B and C starts on a vector); the
   * program builder sets it from the shape. Default false: scalar global accesses (any shape).
   */
  vecGlobal?: boolean;
  /**
   * The batched form (core/kernels/shape.ts): grid z = batch, `P` gains the batch count and the batch strides of A and
   * B (0 for an operand shared by every batch; C's is M·N), every access is offset by its batch's base. Default
   * false: the 2-D text, unchanged.
   */
  batched?: boolean;
}


/**
 * WGSL of the dense matmul. Bindings (group 0): 0 `A` [M,K] f32 read, 1 `B` [K,N] f32 read, 2 `C` [M,N] f32
 * read_write, 3 `P` uniform `{m, n, k, _}` (u32). Workgroup size `(BN/TN, BM/TM, 1)`; grid `(ceil(N/BN), ceil(M/BM), 1)`.
 * @throws RangeError when the tile is invalid (see `validateComputeTile`).
 */
export function denseMatmulWgsl(params: DenseMatmulWgslParams): string {
  const t = params.tile;
  validateComputeTile(t);
  const batched = params.batched ?? false;
  if (isVec4Tile(t)) return denseVec4Wgsl(t, params.vecGlobal ?? false, batched);
  const [oa, ob, oc] = batched ? ['offA + ', 'offB + ', 'offC + '] : ['', '', ''];
  return `// PIT Studio: dense matmul C[M,N] = A[M,K] * B[K,N], fp32 row-major; computation tile ${tileName(t)}${batched ? '; batched (grid z = batch)' : ''}.
${matmulParamsStruct(batched)}

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;

${tileConsts(t, true)}

${tileStorage(t, true)}

${matmulMain(t)}
${SCALAR_THREAD_IDS}
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
${batched ? `${batchBaseLets('wid.z')}\n` : ''}${accDecls(t)}
${scalarSliceLoop(
  t,
  'var k0 = 0u; k0 < P.k; k0 += BK',
  `    // A tile, read along k (coalesced), stored k-major so the inner product reads TM rows with one index.
${scalarARows('P.k', oa)}
${scalarBRows('P.k', ob)}`,
)}
${scalarRowStores(t, oc)}
}
`;
}

/** The vec4 register-tiled, double-buffered dense matmul (see the vec4 path in common.wgsl.ts). */
function denseVec4Wgsl(t: ComputeTile, vec: boolean, batched: boolean): string {
  const a = aBlockTranspose(
    t,
    (row, k) => `loadA(${row}, ${k}, P.m, P.k, P.k)`,
    (tileRow) => `row0 + ${tileRow}`,
  );
  const b = bSlice(t, (r, c) => `loadB(${r}, ${c}, P.k, P.n, P.n)`);
  const arr = vec ? 'array<vec4<f32>>' : 'array<f32>';
  return `// PIT Studio: dense matmul C[M,N] = A[M,K] * B[K,N], fp32 row-major; computation tile ${tileName(t)}, vec4 register tiling, ${vec ? 'vec4' : 'scalar'} global access${batched ? '; batched (grid z = batch)' : ''}.
${matmulParamsStruct(batched)}

@group(0) @binding(0) var<storage, read> A: ${arr};
@group(0) @binding(1) var<storage, read> B: ${arr};
@group(0) @binding(2) var<storage, read_write> C: ${arr};
@group(0) @binding(3) var<uniform> P: Params;

${vec4TileDecls(t, true)}
${batched ? `\n${BATCH_BASE_DECLS}\n` : ''}
${vec4Accessors('A', vec, batched)}

${matmulMain(t)}
${vec4ThreadIds(t)}
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
${batched ? `${batchBases('wid.z')}\n` : ''}${vec4SliceLoop(t, '(P.k + BK - 1u) / BK', a, b)}
${vec4RowStores(t)}
}
`;
}
