/** Agreement of two probability maps: IoU after PaddleOCR's DB binarization (> 0.3), on hand-made maps. */
import { describe, expect, it } from 'vitest';
import { DB_THRESHOLD, mapAgreement, pooledIoU } from '../../core/prune/agreement.ts';

describe('map agreement', () => {
  it('computes IoU of the thresholded maps with a strict >, and the raw differences', () => {
    expect(DB_THRESHOLD).toBe(0.3);
    // Reference positives: indices 0, 1, 2 (0.3 itself is not above the threshold); pruned: 1, 2, 4.
    const ref = [0.9, 0.8, 0.31, 0.3, 0.1];
    const pru = [0.2, 0.7, 0.5, 0.3, 0.6];
    const a = mapAgreement(ref, pru);
    expect([a.referencePositives, a.prunedPositives, a.intersection, a.union]).toEqual([3, 3, 2, 4]);
    expect(a.iou).toBe(0.5);
    expect(a.maxAbsDiff).toBeCloseTo(0.7, 12);
    expect(a.meanAbsDiff).toBeCloseTo((0.7 + 0.1 + 0.19 + 0 + 0.5) / 5, 12);
  });

  it('has no IoU when neither map has a positive, and pools pixel counts across inputs', () => {
    const empty = mapAgreement([0.1, 0.2], [0.05, 0.29]);
    expect(empty.iou).toBeNull();
    const full = mapAgreement([0.9, 0.9], [0.9, 0.1]);
    expect(full.iou).toBe(0.5);
    expect(pooledIoU([empty, full])).toBe(0.5);
    expect(pooledIoU([empty])).toBeNull();
  });
});
