/** Compare: layers matched across runs, Δ ms and Δ % of the chosen time (with detection), sorting. */
import { describe, expect, it } from 'vitest';
import { compareRuns, sortRows } from '../../renderer/src/lib/compare.ts';
import { layer, report, skipped } from './fixtures.ts';

describe('compareRuns', () => {
  const a = report(1, [layer(0, 2, 3), skipped(1), layer(2, 1, 0.4), layer(3, 1, 5)]);
  const b = report(2, [layer(0, 2, 0.9), skipped(1), layer(2, 1.5, 0.9), layer(4, 1, 5)]);
  const { rows, totals } = compareRuns(a, b);

  it('matches layers by input, index and name, in model order', () => {
    expect(rows.map((r) => r.key)).toEqual(['0:0:conv0', '0:1:conv1', '0:2:conv2', '0:3:conv3', '0:4:conv4']);
  });

  it('computes Δ = B − A on the chosen time including detection, Δ% as a fraction of A', () => {
    const r0 = rows[0]!;
    expect(r0).toMatchObject({ msA: 2, chosenA: 'dense', chosenB: 'pit-k' });
    expect(r0.msB).toBeCloseTo(1.0);
    expect(r0.deltaMs).toBeCloseTo(-1.0);
    expect(r0.deltaRel).toBeCloseTo(-0.5);
    const r2 = rows[2]!;
    expect(r2.msA).toBeCloseTo(0.5);
    expect(r2.msB).toBeCloseTo(1.0);
    expect(r2.deltaRel).toBeCloseTo(1.0);
  });

  it('leaves skipped and one-sided layers without a delta', () => {
    expect(rows[1]).toMatchObject({ msA: null, msB: null, deltaMs: null, shape: '—', chosenA: null });
    expect(rows[3]).toMatchObject({ msB: null, deltaMs: null });
    expect(rows[4]).toMatchObject({ msA: null, deltaRel: null });
  });

  it('totals over layers both runs timed', () => {
    expect(totals.matched).toBe(2);
    expect(totals.onlyA).toBe(1);
    expect(totals.onlyB).toBe(1);
    expect(totals.msA).toBeCloseTo(2.5);
    expect(totals.msB).toBeCloseTo(2.0);
    expect(totals.deltaRel).toBeCloseTo(-0.2);
  });

  it('flags layers whose shapes differ between the runs', () => {
    const c = report(3, [layer(0, 2, 3, 0, { m: 128 })]);
    expect(compareRuns(a, c).rows[0]).toMatchObject({ shape: '64×16×32', shapeChanged: true });
  });

  it('sorts by a column in both directions, rows without a value last', () => {
    const asc = sortRows(rows, 'deltaMs', 'asc').map((r) => r.index);
    expect(asc.slice(0, 2)).toEqual([0, 2]);
    expect(sortRows(rows, 'deltaMs', 'desc').map((r) => r.index).slice(0, 2)).toEqual([2, 0]);
    expect(asc.slice(2)).toEqual([1, 3, 4]); // nulls keep model order
    expect(sortRows(rows, 'order', 'desc').map((r) => r.index)).toEqual([4, 3, 2, 1, 0]);
    expect(sortRows(rows, 'name', 'asc')[0]!.name).toBe('conv0');
    expect(rows.map((r) => r.index)).toEqual([0, 1, 2, 3, 4]); // not sorted in place
  });
});
