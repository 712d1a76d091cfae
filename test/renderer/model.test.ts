/** The Model view's figures (renderer/src/lib/model.ts), on a hand-built run whose every number is computed here. */
import { describe, expect, it } from 'vitest';
import {
  filterModelRows,
  inputTotals,
  modelRows,
  pitChosen,
  rollUp,
  savingsPareto,
  skippedByReason,
  sortModelRows,
  topLayers,
} from '../../renderer/src/lib/model.ts';
import { layer, report, skipped, variant } from './fixtures.ts';

// Input 0: conv0 dense 2 vs pit-k 0.9+0.1 (chosen, saves 1 ms); conv1 skipped (group=16); conv2 dense 6 (chosen);
// mm3 a MatMul, dense 1 vs pit-k 0.4+0.1 (chosen, saves 0.5); conv4 skipped (a different reason). Input 1: conv0 only.
const R = report(1, [
  layer(0, 2, 0.9),
  skipped(1),
  layer(2, 6, 9),
  layer(3, 1, 0.4, 0, { name: 'mm3', op: 'MatMul' }),
  { ...skipped(4), skipped: 'batched MatMul (B is [2, 8, 8])', op: 'MatMul' },
  layer(0, 3, 5, 1),
]);
const rows = modelRows(R, 0);

describe('modelRows', () => {
  it('gives each layer of the input its chosen and baseline time, saving, gain and share', () => {
    expect(rows.map((r) => r.key)).toEqual(['0:0', '0:1', '0:2', '0:3', '0:4']);
    const total = 1 + 6 + 0.5;
    expect(rows[0]).toMatchObject({ chosen: 'pit-k', family: 'pit-k', baselineMs: 2, sparsity: 0.5, gain: 2 });
    expect(rows[0]!.chosenMs).toBeCloseTo(1, 12);
    expect(rows[0]!.savedMs).toBeCloseTo(1, 12);
    expect(rows[0]!.share).toBeCloseTo(1 / total, 12);
    expect(rows[2]).toMatchObject({ chosen: 'dense', chosenMs: 6, baselineMs: 6, savedMs: 0, gain: 1 });
    expect(rows[2]!.share).toBeCloseTo(6 / total, 12);
    expect(rows[1]).toMatchObject({ skipped: 'grouped conv (group=16)', chosenMs: null, share: null, sparsity: null });
    expect(modelRows(R, 1).map((r) => r.key)).toEqual(['1:0']);
  });

  it('counts PIT where the chosen variant is not the baseline', () => {
    expect(rows.filter(pitChosen).map((r) => r.index)).toEqual([0, 3]);
    expect(inputTotals(rows)).toEqual({ chosenMs: expect.closeTo(7.5, 9), baselineMs: 9, savedMs: expect.closeTo(1.5, 9), profiled: 3, skipped: 2, pit: 2 });
  });
});

describe('sorting and filtering', () => {
  it('sorts by any column, missing values last in both directions, ties in model order', () => {
    expect(sortModelRows(rows, 'chosenMs', 'desc').map((r) => r.index)).toEqual([2, 0, 3, 1, 4]);
    expect(sortModelRows(rows, 'chosenMs', 'asc').map((r) => r.index)).toEqual([3, 0, 2, 1, 4]);
    expect(sortModelRows(rows, 'name', 'asc').map((r) => r.name)).toEqual(['conv0', 'conv1', 'conv2', 'conv4', 'mm3']);
    expect(sortModelRows(rows, 'index', 'desc').map((r) => r.index)).toEqual([4, 3, 2, 1, 0]);
  });

  it('filters by text (name, op, chosen variant, index) and by status', () => {
    const f = (text: string, status: 'all' | 'profiled' | 'skipped' | 'pit' = 'all') => filterModelRows(rows, { text, status }, pitChosen).map((r) => r.index);
    expect(f('matmul')).toEqual([3, 4]);
    expect(f('PIT-K')).toEqual([0, 3]);
    expect(f('', 'skipped')).toEqual([1, 4]);
    expect(f('', 'profiled')).toEqual([0, 2, 3]);
    expect(f('', 'pit')).toEqual([0, 3]);
    expect(f('mm', 'pit')).toEqual([3]);
    expect(f('nothing')).toEqual([]);
  });
});

describe('the whole-model figures', () => {
  it('ranks the top layers with their running share', () => {
    const top = topLayers(rows, 2);
    expect(top.map((r) => r.index)).toEqual([2, 0]);
    expect(top[1]!.cumShare).toBeCloseTo(7 / 7.5, 12);
  });

  it('rolls up by operator and by chosen family, largest first', () => {
    expect(rollUp(rows, 'op').map((g) => [g.group, g.layers, Number(g.chosenMs.toFixed(9)), g.baselineMs])).toEqual([
      ['Conv', 2, 7, 8],
      ['MatMul', 1, 0.5, 1],
    ]);
    const fam = rollUp(rows, 'family');
    expect(fam.map((g) => [g.group, g.layers])).toEqual([['dense', 1], ['pit-k', 2]]);
    expect(fam[0]!.share).toBeCloseTo(6 / 7.5, 12);
  });

  it('makes the Pareto of savings, largest first, cumulative share ending at 1', () => {
    const p = savingsPareto(rows);
    expect(p.map((s) => [s.index, Number(s.savedMs.toFixed(9))])).toEqual([[0, 1], [3, 0.5]]);
    expect(p.map((s) => Number(s.cumShare.toFixed(9)))).toEqual([Number((1 / 1.5).toFixed(9)), 1]);
  });

  it('groups skipped layers by the kind of reason, keeping each detail', () => {
    const extra = modelRows(report(2, [skipped(0), skipped(5), { ...skipped(7), skipped: 'grouped conv (group=96)' }, skipped(8)]), 0);
    extra[3]!.skipped = 'the activation operand is a constant (nothing dynamic to exploit)';
    expect(skippedByReason(extra)).toEqual([
      { reason: 'grouped conv', layers: [
        { index: 0, name: 'conv0', detail: 'grouped conv (group=16)' },
        { index: 5, name: 'conv5', detail: 'grouped conv (group=16)' },
        { index: 7, name: 'conv7', detail: 'grouped conv (group=96)' },
      ] },
      { reason: 'the activation operand is a constant', layers: [{ index: 8, name: 'conv8', detail: 'the activation operand is a constant (nothing dynamic to exploit)' }] },
    ]);
  });

  it('names the family of older runs from the variant name', () => {
    const old = modelRows(report(3, [layer(0, 2, 1, 0, { variants: [variant('dense', 2), variant('pit-k 8x1', 0.5, 0.1)], chosen: 'pit-k 8x1' })]), 0);
    expect(old[0]!.family).toBe('pit-k');
  });
});
