/**
 * Row slices of a lowered layer (core/model/rows.ts, conv.ts `im2colRows` / `convOutputRows`): every slice equals the
 * same rows of the whole lowering, for Conv (1-D, 2-D with stride, dilation and pads, 3-D, pointwise), MatMul and Gemm
 * with transA — so a layer measured in slices is verified against exactly its reference (synthetic tensors).
 */
import { describe, expect, it } from 'vitest';
import { convGeometry, convOutputRows, convOutputToRows, im2colGrouped, im2colRows } from '../../core/model/conv.ts';
import { lowerToMatmul } from '../../core/model/lowering.ts';
import { RowLowering } from '../../core/model/rows.ts';
import type { CapturedOp } from '../../core/model/reference.ts';
import type { ConvAttrs, SparseOp } from '../../core/model/sparse-ops.ts';
import { randomFloats } from './onnx-builders.ts';

const conv = (over: Partial<ConvAttrs> = {}): ConvAttrs => ({ group: 1, autoPad: 'NOTSET', ...over }) as ConvAttrs;

describe('im2colRows / convOutputRows', () => {
  const cases: [string, number[], number[], ConvAttrs][] = [
    ['2-D 3x3 stride 2 dilation 2 pads', [2, 3, 11, 9], [4, 3, 3, 3], conv({ strides: [2, 2], dilations: [2, 2], pads: [1, 2, 2, 1] })],
    ['1-D', [1, 2, 30], [3, 2, 5], conv({ pads: [2, 2] })],
    ['3-D', [1, 2, 5, 6, 4], [2, 2, 2, 3, 2], conv({ pads: [0, 1, 0, 1, 0, 1] })],
    ['pointwise', [1, 5, 7, 7], [6, 5, 1, 1], conv()],
  ];
  for (const [what, xDims, wDims, attrs] of cases) {
    it(`${what}: any row range equals those rows of the whole im2col and output`, () => {
      const g = convGeometry(xDims, wDims, attrs);
      const x = randomFloats(xDims.reduce((a, b) => a * b), 1);
      const full = im2colGrouped(x, g);
      const m = g.batch * g.outSize.reduce((a, b) => a * b);
      const k = full.length / m;
      const y = randomFloats(g.batch * g.cout * g.outSize.reduce((a, b) => a * b), 2);
      const yRows = convOutputToRows(y, g);
      for (const [r0, r1] of [[0, m], [0, 1], [m - 1, m], [Math.floor(m / 3), Math.floor((2 * m) / 3) + 1]]) {
        expect(im2colRows(x, g, r0!, r1!)).toEqual(full.subarray(r0! * k, r1! * k));
        expect(convOutputRows(y, g, r0!, r1!)).toEqual(yRows.subarray(r0! * g.cout, r1! * g.cout));
      }
    });
  }

  it('refuses grouped convs and rows outside [0, M]', () => {
    const g = convGeometry([1, 4, 5, 5], [4, 1, 3, 3], conv({ group: 4 }));
    expect(() => im2colRows(new Float32Array(100), g, 0, 1)).toThrow(RangeError);
    const g1 = convGeometry([1, 1, 5, 5], [1, 1, 3, 3], conv());
    expect(() => im2colRows(new Float32Array(25), g1, 0, 10)).toThrow(/outside \[0, 9\]/);
  });
});

describe('RowLowering', () => {
  const op = (o: Partial<SparseOp>): SparseOp => ({ index: 0, name: 'layer', supported: true, weightConstant: true, weightName: 'w', ...o }) as SparseOp;
  const cap = (o: SparseOp, input: { dims: number[]; data: Float32Array }, output: { dims: number[]; data: Float32Array }): CapturedOp => ({
    op: o,
    input: { name: 'x', ...input },
    output: { name: 'y', ...output },
  });

  it('Conv, MatMul and Gemm (transA, alpha, beta·C): slices equal the rows of lowerToMatmul', () => {
    const cw = { dims: [4, 3, 3, 3], data: randomFloats(108, 3), name: 'w', source: 'initializer' as const, elemType: 1 };
    const convOp = op({ op: 'Conv', conv: conv({ kernel: [3, 3], pads: [1, 1, 1, 1] }) });
    const convCap = cap(convOp, { dims: [1, 3, 6, 5], data: randomFloats(90, 4) }, { dims: [1, 4, 6, 5], data: randomFloats(120, 5) });
    const mw = { dims: [6, 5], data: randomFloats(30, 6), name: 'w', source: 'initializer' as const, elemType: 1 };
    const mmOp = op({ op: 'MatMul' });
    const mmCap = cap(mmOp, { dims: [2, 7, 6], data: randomFloats(84, 7) }, { dims: [2, 7, 5], data: randomFloats(70, 8) });
    const gw = { dims: [5, 6], data: randomFloats(30, 9), name: 'w', source: 'initializer' as const, elemType: 1 };
    const gc = { dims: [5], data: randomFloats(5, 10), name: 'c', source: 'initializer' as const, elemType: 1 };
    const gemmOp = op({ op: 'Gemm', biasName: 'c', gemm: { transA: true, transB: true, alpha: 0.5, beta: 2 } });
    const gemmCap = cap(gemmOp, { dims: [6, 9], data: randomFloats(54, 11) }, { dims: [9, 5], data: randomFloats(45, 12) });
    for (const [o, c, consts] of [
      [convOp, convCap, new Map([['w', cw]])],
      [mmOp, mmCap, new Map([['w', mw]])],
      [gemmOp, gemmCap, new Map([['w', gw], ['c', gc]])],
    ] as const) {
      const whole = lowerToMatmul(o, c, consts);
      const rows = new RowLowering(o, c, consts);
      expect([rows.m, rows.n, rows.k, rows.lowering]).toEqual([whole.m, whole.n, whole.k, whole.lowering]);
      for (const [r0, r1] of [[0, whole.m], [1, 3], [whole.m - 2, whole.m]]) {
        const s = rows.rows(r0!, r1!);
        expect(s.m).toBe(r1! - r0!);
        expect(s.a).toEqual(whole.a.subarray(r0! * whole.k, r1! * whole.k));
        expect(s.expected).toEqual(whole.expected.subarray(r0! * whole.n, r1! * whole.n));
        expect(s.b).toEqual(whole.b);
        expect(s.bias).toEqual(whole.bias);
        expect(s.alpha).toEqual(whole.alpha);
      }
      expect(() => rows.rows(0, whole.m + 1)).toThrow(RangeError);
    }
  });
});
