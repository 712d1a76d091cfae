/**
 * The pit-m-seqlen family: PIT's token-axis rule with an index built from known lengths (no detection). Rule under
 * test: on a padded batch, the rows of the valid tokens of C equal the CPU reference A·B, padded rows are not computed
 * (they read zero), whatever the padded rows of A hold; the index is exactly the valid rows; it refuses a plan
 * without lengths and lists that are not strictly ascending rows of A.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareOutputs, matmulErrorScale, referenceMatmul, selectRows } from '../../core/kernels/reference.ts';
import { FAMILIES, familyOf } from '../../core/kernels/registry.ts';
import { pitMSeqlenFamily, seqlenIndex } from '../../core/kernels/pit-m-seqlen.ts';
import { runVariant } from '../../core/kernels/variants.ts';
import { validRows } from '../../core/ocr/seqlen.ts';
import { defaultFamilies } from '../../core/profile/profile.ts';
import { testGpu, type TestGpu } from '../gpu-helpers.ts';
import { randomDense } from './fixtures.ts';

describe('pit-m-seqlen vs the CPU reference', () => {
  let g: TestGpu;
  beforeAll(async () => {
    g = await testGpu();
  });
  afterAll(() => g.ctx.destroy());

  // A padded batch of 3 samples over a [3, H=2, T=20] grid of rows (as a Conv's output pixels (n, h, w)), lengths
  // 7, 20 and 3: 2·(7 + 20 + 3) = 60 valid rows of 120. Padded rows of A hold non-zero values (as a real padded
  // batch does after the first layer), so skipping them is not detection.
  const lengths = [7, 20, 3];
  const rows = validRows([3, 2, 20], lengths);
  const [m, n, k] = [120, 40, 56];
  const a = randomDense(m * k, 5);
  const b = randomDense(k * n, 6);
  const ref = referenceMatmul(a, b, m, n, k);

  it('the valid rows come from the lengths: (n, h, w) with w < length[n]', () => {
    expect(rows).toHaveLength(60);
    expect(rows.slice(0, 8)).toEqual([0, 1, 2, 3, 4, 5, 6, 20]);
    expect(rows.slice(14, 16)).toEqual([40, 41]); // sample 1 starts at row 2·20
    expect(rows.at(-1)).toBe(102); // sample 2, h = 1, w = 2: (2·2 + 1)·20 + 2
    const { count, index } = seqlenIndex(rows, m);
    expect(Array.from(count)).toEqual([60]);
    expect(Array.from(index.subarray(0, 60))).toEqual(rows);
  });

  for (const config of pitMSeqlenFamily.layerConfigs({ m, n, k })) {
    it(`tile ${config.tile.bm}x${config.tile.bn}x${config.tile.bk}: valid rows match A·B, padded rows are zero`, async () => {
      const run = await runVariant(g.ctx, g.cache, { m, n, k, a, b, context: { validRows: rows } }, config, { warmup: 0, repeat: 1 });
      const cmp = compareOutputs(selectRows(run.output, n, rows), selectRows(ref, n, rows), { k, scale: matmulErrorScale(a, b, m, n, k) });
      expect(cmp.ok, `max abs err ${cmp.maxAbsErr} > ${cmp.tolerance}`).toBe(true);
      const valid = new Set(rows);
      for (let r = 0; r < m; r++) {
        if (valid.has(r)) continue;
        expect(Array.from(run.output.subarray(r * n, (r + 1) * n)).every((x) => x === 0), `padded row ${r}`).toBe(true);
      }
      expect(run.detectMs).toBe(0); // the index is uploaded, not detected
      expect(run.microTileDensity).toBeNull();
      expect(run.kernelMs).toBeGreaterThan(0);
    });
  }

  it('its effective density is the valid-row share, and it names what it needs', () => {
    const c = pitMSeqlenFamily.layerConfigs({ m, n, k })[0]!;
    expect(pitMSeqlenFamily.contextDensity!(c, { m, n, k }, { validRows: rows })).toBeCloseTo(0.5, 12);
    expect(pitMSeqlenFamily.needs).toEqual(['validRows']);
    expect(pitMSeqlenFamily.defaultOn).toBe(false);
    expect(pitMSeqlenFamily.tuningConfigs()).toEqual([]);
    expect(FAMILIES.map((f) => f.name)).toContain('pit-m-seqlen');
    expect(defaultFamilies()).not.toContain('pit-m-seqlen');
    expect(familyOf('pit-m-seqlen')).toBe(pitMSeqlenFamily);
    const plan = pitMSeqlenFamily.plan({ m, n, k }, c, { validRows: rows });
    expect(plan.detect).toEqual([]);
    expect(plan.counts).toBeNull();
    expect(plan.outputRows).toBe(rows);
  });

  it('refuses a plan without lengths, and rows that are not ascending rows of A', () => {
    const c = pitMSeqlenFamily.layerConfigs({ m, n, k })[0]!;
    expect(() => pitMSeqlenFamily.plan({ m, n, k }, c)).toThrow(/needs the valid rows/);
    expect(() => pitMSeqlenFamily.plan({ m, n, k }, c, { validRows: [3, 2] })).toThrow(/strictly ascending/);
    expect(() => pitMSeqlenFamily.plan({ m, n, k }, c, { validRows: [0, m] })).toThrow(/outside \[0, 120\)/);
    expect(() => pitMSeqlenFamily.plan({ m, n, k }, c, { validRows: [] })).toThrow(/no valid row/);
  });
});
