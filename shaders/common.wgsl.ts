/**
 * Pieces shared by the matmul WGSL templates (dense, pit-k, pit-m): the computation tile's parameters and their
 * validation, the register-tiled inner product over one BK slice of workgroup memory, and a grid-stride zero-fill
 * kernel.
 *
 * Thread layout of every matmul template: a workgroup of `TX x TY` threads with `TX = BN/TN`, `TY = BM/TM` computes a
 * `BM x BN` output tile; thread (tx, ty) owns rows `ty + i*TY` (i < TM) and columns `tx + j*TX` (j < TN) of the
 * tile. The strided ownership (rather than a contiguous TM x TN block) makes neighbouring threads read neighbouring
 * workgroup-memory words of the B tile and write neighbouring words of C, so stores coalesce and reads are free of
 * bank conflicts. The accumulators are scalars emitted one per (i, j) so they stay in registers on every compiler.
 */

/** A computation tile: the dense `BM x BN x BK` block one workgroup computes, with `TM x TN` outputs per thread. */
export interface ComputeTile {
  /** Rows of C per workgroup (the M extent of the computation tile). */
  bm: number;
  /** Columns of C per workgroup. */
  bn: number;
  /** Reduction slice staged in workgroup memory per step. */
  bk: number;
  /** Rows per thread (register tile). */
  tm: number;
  /** Columns per thread (register tile). */
  tn: number;
}

/** Invocations per workgroup of a matmul template: `(BM/TM) * (BN/TN)`. */
export function threadsPerWorkgroup(t: ComputeTile): number {
  return (t.bm / t.tm) * (t.bn / t.tn);
}

/**
 * Checks that a computation tile can be generated: positive integers, `BM % TM == 0`, `BN % TN == 0`, and at most
 * 1024 invocations (the largest `maxComputeInvocationsPerWorkgroup` WebGPU allows; the device's own limit is checked
 * when the variant runs).
 * @throws RangeError naming the offending field.
 */
export function validateComputeTile(t: ComputeTile): void {
  for (const key of ['bm', 'bn', 'bk', 'tm', 'tn'] as const) {
    const v = t[key];
    if (!Number.isInteger(v) || v < 1 || v > 4096) throw new RangeError(`computation tile: ${key} must be an integer in [1, 4096], got ${v}`);
  }
  if (t.bm % t.tm) throw new RangeError(`computation tile: BM (${t.bm}) must be a multiple of TM (${t.tm})`);
  if (t.bn % t.tn) throw new RangeError(`computation tile: BN (${t.bn}) must be a multiple of TN (${t.tn})`);
  const threads = threadsPerWorkgroup(t);
  if (threads > 1024) throw new RangeError(`computation tile ${tileName(t)}: ${threads} invocations per workgroup (> 1024)`);
  if (t.tm * t.tn > 256) throw new RangeError(`computation tile ${tileName(t)}: TM*TN = ${t.tm * t.tn} registers per thread (> 256)`);
}

/** `BMxBNxBK/TMxTN`, the tile's name in labels and the tile database. */
export function tileName(t: ComputeTile): string {
  return `${t.bm}x${t.bn}x${t.bk}/${t.tm}x${t.tn}`;
}

/**
 * Row stride (in f32 words) of the k-major A tile `As[BK][BM + pad]` in workgroup memory. Templates whose A loads
 * walk along k (dense, pit-m) write As column-wise; one word of padding spreads those writes over the banks.
 */
export function aStride(t: ComputeTile, padded: boolean): number {
  return padded ? t.bm + 1 : t.bm;
}

/** Workgroup memory of a matmul template in bytes: the A and B tiles (f32) plus `extraWords` u32 of bookkeeping. */
export function workgroupStorageBytes(t: ComputeTile, paddedA: boolean, extraWords = 0): number {
  return 4 * (t.bk * aStride(t, paddedA) + t.bk * t.bn + extraWords);
}

/** WGSL `const` declarations of a computation tile (`BM`, `BN`, `BK`, `TM`, `TN`, `TX`, `TY`, `NT`, `AS`). */
export function tileConsts(t: ComputeTile, paddedA: boolean): string {
  return [
    `const BM = ${t.bm}u;`,
    `const BN = ${t.bn}u;`,
    `const BK = ${t.bk}u;`,
    `const TM = ${t.tm}u;`,
    `const TN = ${t.tn}u;`,
    `const TX = ${t.bn / t.tn}u; // threads along N`,
    `const TY = ${t.bm / t.tm}u; // threads along M`,
    `const NT = ${threadsPerWorkgroup(t)}u; // threads per workgroup`,
    `const AS = ${aStride(t, paddedA)}u; // row stride of the k-major A tile`,
  ].join('\n');
}

/** WGSL workgroup tiles: `As` is k-major `[BK][AS]` (A tile transposed), `Bs` is `[BK][BN]`. */
export function tileStorage(t: ComputeTile, paddedA: boolean): string {
  return [
    `var<workgroup> As: array<f32, ${t.bk * aStride(t, paddedA)}>;`,
    `var<workgroup> Bs: array<f32, ${t.bk * t.bn}>;`,
  ].join('\n');
}

/** Name of accumulator (i, j). */
export function accName(i: number, j: number): string {
  return `acc_${i}_${j}`;
}

/** WGSL declaring the TM*TN zeroed accumulators (inside `main`). */
export function accDecls(t: ComputeTile, indent = '  '): string {
  const lines: string[] = [];
  for (let i = 0; i < t.tm; i++) {
    const row: string[] = [];
    for (let j = 0; j < t.tn; j++) row.push(`var ${accName(i, j)} = 0.0;`);
    lines.push(indent + row.join(' '));
  }
  return lines.join('\n');
}

/**
 * WGSL of the inner product over one staged BK slice: for each kk, TM values of A and TN of B go to registers, then
 * TM*TN fused multiply-adds. Expects `tx`, `ty` and the tiles in scope.
 */
export function tileInnerProduct(t: ComputeTile, indent = '    '): string {
  const lines: string[] = [`for (var kk = 0u; kk < BK; kk++) {`];
  for (let i = 0; i < t.tm; i++) lines.push(`  let a${i} = As[kk * AS + ty + ${i}u * TY];`);
  for (let j = 0; j < t.tn; j++) lines.push(`  let b${j} = Bs[kk * BN + tx + ${j}u * TX];`);
  for (let i = 0; i < t.tm; i++) {
    for (let j = 0; j < t.tn; j++) lines.push(`  ${accName(i, j)} = fma(a${i}, b${j}, ${accName(i, j)});`);
  }
  lines.push('}');
  return lines.map((l) => indent + l).join('\n');
}

/**
 * WGSL that stores the accumulators: calls `emitRow(i)` to open row i's guard, `emit(i, j)` for each element.
 * `emitRow` returns `[open, close]` lines around the row (e.g. a bounds check), `emit` the statement for (i, j)
 * given its column expression `col`.
 */
export function accStores(
  t: ComputeTile,
  emitRow: (i: number) => [string, string],
  emit: (i: number, j: number, col: string) => string,
  indent = '  ',
): string {
  const lines: string[] = [];
  for (let i = 0; i < t.tm; i++) {
    const [open, close] = emitRow(i);
    lines.push(open);
    for (let j = 0; j < t.tn; j++) {
      const col = `col0 + tx + ${j}u * TX`;
      lines.push(`  ${emit(i, j, col)}`);
    }
    lines.push(close);
  }
  return lines.map((l) => indent + l).join('\n');
}

/** Invocations per workgroup of the zero-fill kernel. */
export const FILL_WORKGROUP = 256;

/**
 * WGSL of a grid-stride zero-fill of a whole `array<u32>` binding (`X`, binding 0). Used to clear detection counts
 * and the pit-m output inside the timed work: WebGPU compute passes have no clear command, and `clearBuffer` is a
 * command-encoder operation that a timestamped compute pass cannot include.
 */
export function fillZeroWgsl(): string {
  return `// PIT Studio: zero-fill of a u32/f32 buffer (grid-stride loop over arrayLength).
@group(0) @binding(0) var<storage, read_write> X: array<u32>;

@compute @workgroup_size(${FILL_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let n = arrayLength(&X);
  let stride = nwg.x * ${FILL_WORKGROUP}u;
  for (var i = gid.x; i < n; i += stride) {
    X[i] = 0u;
  }
}
`;
}
