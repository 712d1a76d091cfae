/**
 * Slices of a lowered layer (core/model/slices.ts, conv.ts `im2colRows` / `convOutputRows`): every slice equals the
 * same rows — of a 2-D layer — or batches — of a batched one — of the whole batched lowering, for Conv (1-D, 2-D with
 * stride, dilation and pads, 3-D, pointwise, grouped, depthwise), ConvTranspose, MatMul (folded, broadcast, gathered,
 * shared A) and Gemm with transA — so a layer measured in slices is verified against exactly its reference
 * (synthetic tensors).
 */
import { describe, expect, it } from 'vitest';
import { lowerToBatchedMatmul, type BatchedMatmul } from '../../core/model/batched.ts';
import { convGeometry, convOutputRows, convOutputToRows, im2colGrouped, im2colRows } from '../../core/model/conv.ts';
import { LayerSlicer } from '../../core/model/slices.ts';
import type { CapturedOp } from '../../core/model/reference.ts';
import type { ConvAttrs, SparseOp } from '../../core/model/sparse-ops.ts';
import { layerProblem } from '../../core/profile/layer-problem.ts';
import { randomFloats } from './onnx-builders.ts';

const conv = (over: Partial<ConvAttrs> = {}): ConvAttrs => ({ group: 1, autoPad: 'NOTSET', ...over }) as ConvAttrs;

describe('im2colRows / convOutputRows', () => {
  const cases: [string, number[], number[], ConvAttrs, boolean?][] = [
    ['2-D 3x3 stride 2 dilation 2 pads', [2, 3, 11, 9], [4, 3, 3, 3], conv({ strides: [2, 2], dilations: [2, 2], pads: [1, 2, 2, 1] })],
    ['1-D', [1, 2, 30], [3, 2, 5], conv({ pads: [2, 2] })],
    ['3-D', [1, 2, 5, 6, 4], [2, 2, 2, 3, 2], conv({ pads: [0, 1, 0, 1, 0, 1] })],
    ['pointwise', [1, 5, 7, 7], [6, 5, 1, 1], conv()],
    ['grouped (2 groups of 2 channels)', [2, 4, 6, 5], [6, 2, 3, 3], conv({ group: 2, pads: [1, 1, 1, 1] })],
    ['depthwise', [1, 4, 7, 6], [4, 1, 3, 3], conv({ group: 4, strides: [2, 1] })],
    ['ConvTranspose stride 2', [1, 3, 4, 5], [3, 2, 3, 3], conv({ strides: [2, 2], pads: [1, 1, 1, 1] }), true],
  ];
  for (const [what, xDims, wDims, attrs, transposed] of cases) {
    it(`${what}: any row range of any group equals those rows of the whole im2col and output`, () => {
      const g = convGeometry(xDims, wDims, attrs, 'conv', !!transposed);
      const x = randomFloats(xDims.reduce((a, b) => a * b), 1);
      const full = im2colGrouped(x, g);
      const m = g.batch * g.outSize.reduce((a, b) => a * b);
      const kg = full.length / (g.group * m);
      const ng = g.cout / g.group;
      const y = randomFloats(g.batch * g.cout * g.outSize.reduce((a, b) => a * b), 2);
      const yRows = convOutputToRows(y, g);
      for (let gi = 0; gi < g.group; gi++) {
        for (const [r0, r1] of [[0, m], [0, 1], [m - 1, m], [Math.floor(m / 3), Math.floor((2 * m) / 3) + 1]]) {
          expect(im2colRows(x, g, r0!, r1!, gi)).toEqual(full.subarray((gi * m + r0!) * kg, (gi * m + r1!) * kg));
          expect(convOutputRows(y, g, r0!, r1!, gi)).toEqual(yRows.subarray((gi * m + r0!) * ng, (gi * m + r1!) * ng));
        }
      }
    });
  }

  it('refuses rows outside [0, M] and groups outside [0, G)', () => {
    const g = convGeometry([1, 4, 5, 5], [4, 1, 3, 3], conv({ group: 4 }));
    expect(() => im2colRows(new Float32Array(100), g, 0, 1, 4)).toThrow(/group 4 outside \[0, 4\)/);
    const g1 = convGeometry([1, 1, 5, 5], [1, 1, 3, 3], conv());
    expect(() => im2colRows(new Float32Array(25), g1, 0, 10)).toThrow(/outside \[0, 9\]/);
    expect(() => convOutputRows(new Float32Array(9), g1, 2, 1)).toThrow(RangeError);
  });
});

describe('LayerSlicer', () => {
  const op = (o: Partial<SparseOp>): SparseOp => ({ index: 0, name: 'layer', supported: true, weightConstant: true, weightName: 'w', ...o }) as SparseOp;
  const cap = (o: SparseOp, input: { dims: number[]; data: Float32Array }, output: { dims: number[]; data: Float32Array }, weight?: { dims: number[]; data: Float32Array }): CapturedOp => ({
    op: o,
    input: { name: 'x', ...input },
    output: { name: 'y', ...output },
    ...(weight ? { weight: { name: 'w', ...weight } } : {}),
  });
  const tensor = (name: string, dims: number[], seed: number) => ({ dims, data: randomFloats(dims.reduce((a, b) => a * b, 1), seed), name, source: 'initializer' as const, elemType: 1 });
  const numel = (d: number[]) => d.reduce((a, b) => a * b, 1);
  const io = (xDims: number[], yDims: number[], seed: number) => [{ dims: xDims, data: randomFloats(numel(xDims), seed) }, { dims: yDims, data: randomFloats(numel(yDims), seed + 1) }] as const;

  /** Batches [b0, b1) of a whole batched matmul, as plain arrays (the slice's own layout). */
  function batchesOf(w: BatchedMatmul, b0: number, b1: number) {
    const part = (x: Float32Array, stride: number, size: number) => (stride === 0 ? x.subarray(0, size) : x.subarray(b0 * stride, b1 * stride));
    return {
      a: part(w.a, w.aBatchStride, w.m * w.k),
      b: part(w.b, w.bBatchStride, w.k * w.n),
      expected: w.expected.subarray(b0 * w.m * w.n, b1 * w.m * w.n),
      bias: w.bias?.subarray(b0 * w.n, b1 * w.n),
    };
  }

  it('2-D layers (Conv, ConvTranspose, MatMul folded, Gemm with transA, alpha, beta·C): row slices equal the rows of the whole lowering', () => {
    const convOp = op({ op: 'Conv', conv: conv({ kernel: [3, 3], pads: [1, 1, 1, 1] }) });
    const ctOp = op({ op: 'ConvTranspose', conv: conv({ kernel: [3, 3], strides: [2, 2] }) });
    const mmOp = op({ op: 'MatMul' });
    const gemmOp = op({ op: 'Gemm', biasName: 'c', gemm: { transA: true, transB: true, alpha: 0.5, beta: 2 } });
    const cases = [
      [convOp, cap(convOp, ...io([1, 3, 6, 5], [1, 4, 6, 5], 4)), new Map([['w', tensor('w', [4, 3, 3, 3], 3)]])],
      [ctOp, cap(ctOp, ...io([1, 2, 3, 4], [1, 3, 7, 9], 20)), new Map([['w', tensor('w', [2, 3, 3, 3], 21)]])],
      [mmOp, cap(mmOp, ...io([2, 7, 6], [2, 7, 5], 7)), new Map([['w', tensor('w', [6, 5], 6)]])],
      [gemmOp, cap(gemmOp, ...io([6, 9], [9, 5], 11)), new Map([['w', tensor('w', [5, 6], 9)], ['c', tensor('c', [5], 10)]])],
    ] as const;
    for (const [o, c, consts] of cases) {
      const whole = lowerToBatchedMatmul(o, c, consts);
      const s = new LayerSlicer(o, c, consts);
      expect(whole.batch).toBe(1);
      expect([s.axis, s.units, s.batch, s.lowering]).toEqual(['rows', whole.m, 1, whole.lowering]);
      expect(s.shape).toEqual(layerProblem(whole).shape);
      expect(s.weight).toEqual(whole.b);
      for (const [r0, r1] of [[0, whole.m], [1, 3], [whole.m - 2, whole.m]]) {
        const x = s.slice(r0!, r1!);
        expect([x.batch, x.m, x.n, x.k, x.aBatchStride, x.lowering]).toEqual([1, r1! - r0!, whole.n, whole.k, (r1! - r0!) * whole.k, whole.lowering]);
        expect(x.a).toEqual(whole.a.subarray(r0! * whole.k, r1! * whole.k));
        expect(x.expected).toEqual(whole.expected.subarray(r0! * whole.n, r1! * whole.n));
        expect(x.b).toEqual(whole.b);
        expect(x.bias).toEqual(whole.bias);
        expect(x.alpha).toEqual(whole.alpha);
      }
      expect(() => s.slice(0, whole.m + 1)).toThrow(RangeError);
    }
  });

  it('batched layers (grouped and depthwise Conv, attention-like MatMul broadcast, gathered and with a shared A): batch slices equal those batches of the whole lowering', () => {
    const grouped = op({ op: 'Conv', biasName: 'bias', conv: conv({ kernel: [3, 3], group: 3, pads: [1, 1, 1, 1] }) });
    const depthwise = op({ op: 'Conv', conv: conv({ kernel: [3, 3], group: 4, strides: [2, 2] }) });
    // Attention-like: both operands activations ([B, H, M, K]·[B, H, K, N]); B from the capture.
    const attn = op({ op: 'MatMul', weightConstant: false });
    // B broadcast along one batch axis only ([2, 1, K, N] against [2, 3, M, K]): gathered per output batch.
    const gather = op({ op: 'MatMul', weightConstant: false });
    // A without batch ([M, K]) against a batched B: A shared by every batch (stride 0).
    const sharedA = op({ op: 'MatMul', weightConstant: false });
    const cases = [
      [grouped, cap(grouped, ...io([2, 6, 5, 4], [2, 6, 5, 4], 30)), new Map([['w', tensor('w', [6, 2, 3, 3], 31)], ['bias', tensor('bias', [6], 32)]]), [[0, 1], [1, 3], [0, 3]]],
      [depthwise, cap(depthwise, ...io([1, 4, 7, 6], [1, 4, 3, 2], 33)), new Map([['w', tensor('w', [4, 1, 3, 3], 34)]]), [[0, 2], [2, 4], [3, 4]]],
      [attn, cap(attn, ...io([2, 3, 5, 4], [2, 3, 5, 6], 40), { dims: [2, 3, 4, 6], data: randomFloats(144, 41) }), new Map(), [[0, 2], [2, 5], [5, 6]]],
      [gather, cap(gather, ...io([2, 3, 5, 4], [2, 3, 5, 6], 42), { dims: [2, 1, 4, 6], data: randomFloats(48, 43) }), new Map(), [[0, 1], [1, 4], [4, 6]]],
      [sharedA, cap(sharedA, ...io([5, 4], [3, 5, 6], 44), { dims: [3, 4, 6], data: randomFloats(72, 45) }), new Map(), [[0, 1], [1, 3]]],
    ] as const;
    for (const [o, c, consts, ranges] of cases) {
      const whole = lowerToBatchedMatmul(o, c, consts);
      const s = new LayerSlicer(o, c, consts);
      expect(whole.batch).toBeGreaterThan(1);
      expect([s.axis, s.units, s.batch, s.batchDims, s.batchKind, s.lowering]).toEqual(['batch', whole.batch, whole.batch, whole.batchDims, whole.batchKind, whole.lowering]);
      expect(s.shape).toEqual(layerProblem(whole).shape);
      expect(s.weight).toBeNull();
      for (const [b0, b1] of ranges) {
        const x = s.slice(b0, b1);
        const want = batchesOf(whole, b0, b1);
        expect([x.batch, x.m, x.n, x.k]).toEqual([b1 - b0, whole.m, whole.n, whole.k]);
        expect(x.a).toEqual(want.a);
        expect(x.b).toEqual(want.b);
        expect(x.expected).toEqual(want.expected);
        expect(x.bias).toEqual(want.bias);
        // A shared A keeps stride 0 in a slice of several batches; a slice of one batch is a 2-D problem.
        expect(x.aBatchStride).toBe(whole.aBatchStride === 0 && b1 - b0 > 1 ? 0 : whole.m * whole.k);
      }
      expect(s.slice(0, whole.batch).expected).toEqual(whole.expected);
      expect(() => s.slice(1, 1)).toThrow(RangeError);
    }
  });
});
