/**
 * Batching geometry of PaddleOCR rec (predict_rec.py: sorted by w/h, height 48, width int(48·max(320/48, widest
 * w/h)), each resized to width min(batch width, ceil(48·w/h)), zero-padded on the right), the padding share, the
 * valid rows of a layer from the lengths (seqlen.ts), round-robin line selection and CTC decoding — all on hand-made
 * crops and tensors with the expected values worked out by hand.
 */
import { describe, expect, it } from 'vitest';
import type { Image8 } from '../../core/inputs/image.ts';
import { roundRobin } from '../../core/ocr/det.ts';
import { ctcDecode } from '../../core/ocr/job.ts';
import { recBatchGeometry, recBatchTensors, sortByAspect, tokenPaddingShare } from '../../core/ocr/rec-batch.ts';
import { rowDims, validExtents, validRows } from '../../core/ocr/seqlen.ts';

function crop(width: number, height: number, value = 128): Image8 {
  return { width, height, order: 'BGR', data: new Uint8Array(width * height * 3).fill(value) };
}

describe('PaddleOCR rec batching geometry', () => {
  it('widths, batch width and padding share on hand-made crops', () => {
    // w/h = 2, 10, 5 → sorted 100x50 (2), 150x30 (5), 400x40 (10).
    const crops = [crop(100, 50), crop(400, 40), crop(150, 30)];
    const order = sortByAspect(crops);
    expect(order).toEqual([0, 2, 1]);
    const g = recBatchGeometry(order.map((i) => crops[i]!));
    // int(48·max(320/48, 10)) = 480; widths ceil(48·2) = 96, ceil(48·5) = 240, ceil(48·10) = 480.
    expect(g.height).toBe(48);
    expect(g.width).toBe(480);
    expect(g.samples.map((s) => s.resizedWidth)).toEqual([96, 240, 480]);
    // padding: 1 − (96 + 240 + 480) / (3·480) = 1 − 816/1440.
    expect(g.paddingShare).toBeCloseTo(1 - 816 / 1440, 12);
  });

  it('the batch is at least 320 wide (rec_image_shape), and min-width 48 pads only to the widest', () => {
    const crops = [crop(60, 30), crop(90, 30)]; // ratios 2 and 3
    const paddle = recBatchGeometry(crops);
    expect(paddle.width).toBe(320);
    expect(paddle.samples.map((s) => s.resizedWidth)).toEqual([96, 144]);
    expect(paddle.paddingShare).toBeCloseTo(1 - 240 / 640, 12);
    const tight = recBatchGeometry(crops, { minWidth: 48 });
    expect(tight.width).toBe(144);
    expect(tight.paddingShare).toBeCloseTo(1 - 240 / 288, 12);
  });

  it('int() truncates the batch width; the widest line is then squeezed to it', () => {
    // w/h = 1000/3: 48·1000/3 = 16000 exactly; 7001/21 → 48·333.38… = 16002.28… → int 16002, ceil 16003 → 16002.
    const g = recBatchGeometry([crop(7001, 21)]);
    expect(g.width).toBe(16002);
    expect(g.samples[0]!.resizedWidth).toBe(16002);
    expect(g.paddingShare).toBe(0);
  });

  it('refuses an empty batch and crops without area', () => {
    expect(() => recBatchGeometry([])).toThrow(/at least one crop/);
    expect(() => recBatchGeometry([crop(0, 10)])).toThrow(/no area/);
  });

  it('tensors: each sample normalised and zero-padded on the right; alone = its un-padded columns', () => {
    const crops = [crop(48, 48, 255), crop(96, 48, 0)]; // widths 48 and 96, batch 320
    const g = recBatchGeometry(crops);
    const t = recBatchTensors(crops, g);
    expect(t.batch.dims).toEqual([2, 3, 48, 320]);
    expect(t.alone.map((a) => a.dims)).toEqual([
      [1, 3, 48, 48],
      [1, 3, 48, 96],
    ]);
    const at = (s: number, c: number, y: number, x: number) => t.batch.data[((s * 3 + c) * 48 + y) * 320 + x]!;
    expect(at(0, 0, 0, 0)).toBe(1); // (255/255 − 0.5)/0.5
    expect(at(0, 2, 47, 47)).toBe(1);
    expect(at(0, 1, 10, 48)).toBe(0); // padding
    expect(at(1, 0, 5, 95)).toBe(-1); // (0 − 0.5)/0.5
    expect(at(1, 0, 5, 96)).toBe(0);
    expect(Array.from(t.alone[1]!.data.subarray(0, 96)).every((v) => v === -1)).toBe(true);
  });

  it('token padding share', () => {
    expect(tokenPaddingShare([6, 29], 40)).toBeCloseTo(1 - 35 / 80, 12);
    expect(tokenPaddingShare([40, 40], 40)).toBe(0);
  });
});

describe('valid rows of a layer from the lengths', () => {
  it('Conv [N, C, H, W]: rows (n, h, w), valid when w < length[n]', () => {
    expect(rowDims('Conv', [2, 16, 3, 5])).toEqual([2, 3, 5]);
    expect(validRows([2, 3, 5], [2, 4])).toEqual([0, 1, 5, 6, 10, 11, 15, 16, 17, 18, 20, 21, 22, 23, 25, 26, 27, 28]);
  });

  it('MatMul [N, T, C]: rows (n, t); a 2-D output is one sample', () => {
    expect(rowDims('MatMul', [3, 10, 120])).toEqual([3, 10]);
    expect(validRows([3, 10], [1, 0, 3])).toEqual([0, 20, 21, 22]);
    expect(rowDims('MatMul', [10, 120])).toEqual([1, 10]);
    expect(rowDims('Gemm', [10, 120])).toBeNull();
  });

  it('extents come from each sample alone; other axes must agree', () => {
    // Batch [2, 64, 12, 80]; alone widths 30 and 80 at the same height.
    expect(validExtents('Conv', [2, 64, 12, 80], [[1, 64, 12, 30], [1, 64, 12, 80]])).toEqual([30, 80]);
    // A height that differs: the padding is not only on the token axis.
    expect(validExtents('Conv', [2, 64, 12, 80], [[1, 64, 6, 30], [1, 64, 12, 80]])).toBeNull();
    // A squeeze-excitation conv after global pooling: [N, C, 1, 1], every row valid.
    expect(validExtents('Conv', [2, 240, 1, 1], [[1, 240, 1, 1], [1, 240, 1, 1]])).toEqual([1, 1]);
    expect(validExtents('MatMul', [2, 77, 120], [[1, 29, 120], [1, 77, 120]])).toEqual([29, 77]);
    expect(validExtents('Conv', [2, 16, 24, 160], [[1, 16, 24, 30]])).toBeNull(); // one alone run for two samples
  });

  it('refuses lengths that do not fit', () => {
    expect(() => validRows([2, 5], [1])).toThrow(/1 lengths for 2 samples/);
    expect(() => validRows([1, 5], [6])).toThrow(/outside \[0, 5\]/);
  });
});

describe('lines and text', () => {
  it('round-robin over the photos, each in reading order', () => {
    const picked = roundRobin([['a1', 'a2', 'a3'], [], ['c1']], 4);
    expect(picked.map((p) => p.item)).toEqual(['a1', 'c1', 'a2', 'a3']);
    expect(picked.map((p) => [p.photo, p.line])).toEqual([[0, 0], [2, 0], [0, 1], [0, 2]]);
    expect(roundRobin([['a1'], ['b1', 'b2']], 10).map((p) => p.item)).toEqual(['a1', 'b1', 'b2']);
  });

  it('greedy CTC: blank 0, repeats merged, characters from the dictionary (class c → dictionary[c − 1])', () => {
    const dict = ['A', 'B', ' '];
    // argmax per token: 1 1 0 1 2 2 3 → A (merged), blank, A, B (merged), space.
    const classes = 4;
    const seq = [1, 1, 0, 1, 2, 2, 3];
    const probs = new Float32Array(seq.length * classes);
    seq.forEach((c, t) => (probs[t * classes + c] = 0.9));
    const d = ctcDecode(probs, seq.length, classes, dict);
    expect(d.argmax).toEqual(seq);
    expect(d.text).toBe('AAB ');
  });
});
