/**
 * Agreement of a pruned model with the unpruned one on real inputs (one-shot quality). For a text detector that
 * outputs a probability map (PP-OCRv4 det: [1, 1, H, W] after a sigmoid), the IoU of the two maps thresholded the way
 * PaddleOCR's DB post-processing binarizes them (`ppocr/postprocess/db_postprocess.py`: `segmentation = pred >
 * thresh`, `thresh` = `det_db_thresh` = 0.3), plus the mean and largest absolute difference of the raw maps.
 */

/** PaddleOCR DBPostProcess's binarization threshold (`det_db_thresh` default 0.3; strict `>`). */
export const DB_THRESHOLD = 0.3;

/** Agreement of two maps of the same size. */
export interface MapAgreement {
  threshold: number;
  /** Pixels above the threshold in the reference, in the pruned output, in both, in either. */
  referencePositives: number;
  prunedPositives: number;
  intersection: number;
  union: number;
  /** intersection / union, or null when neither map has a positive (nothing to agree on). */
  iou: number | null;
  /** Mean and largest |pruned − reference| over all values (probabilities, 0–1). */
  meanAbsDiff: number;
  maxAbsDiff: number;
}

/**
 * Thresholded-map agreement.
 *
 * @param reference the unpruned model's output
 * @param pruned the pruned model's output, same length
 * @throws Error when the lengths differ
 */
export function mapAgreement(reference: ArrayLike<number>, pruned: ArrayLike<number>, threshold = DB_THRESHOLD): MapAgreement {
  if (reference.length !== pruned.length) throw new Error(`agreement: outputs of ${reference.length} and ${pruned.length} values`);
  let rp = 0, pp = 0, inter = 0, uni = 0, sum = 0, max = 0;
  for (let i = 0; i < reference.length; i++) {
    const a = reference[i] > threshold;
    const b = pruned[i] > threshold;
    if (a) rp++;
    if (b) pp++;
    if (a && b) inter++;
    if (a || b) uni++;
    const d = Math.abs(pruned[i] - reference[i]);
    sum += d;
    if (d > max) max = d;
  }
  return {
    threshold,
    referencePositives: rp,
    prunedPositives: pp,
    intersection: inter,
    union: uni,
    iou: uni ? inter / uni : null,
    meanAbsDiff: reference.length ? sum / reference.length : 0,
    maxAbsDiff: max,
  };
}

/** IoU over several inputs pooled pixel by pixel (Σ intersection / Σ union), or null when no input has a positive. */
export function pooledIoU(list: readonly MapAgreement[]): number | null {
  let i = 0, u = 0;
  for (const a of list) {
    i += a.intersection;
    u += a.union;
  }
  return u ? i / u : null;
}
