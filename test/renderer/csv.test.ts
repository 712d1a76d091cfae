/** CSV export: quoting, missing values, the run table and the compare table. */
import { describe, expect, it } from 'vitest';
import { compareRuns } from '../../renderer/src/lib/compare.ts';
import { compareCsv, csvField, runCsv, toCsv } from '../../renderer/src/lib/csv.ts';
import { layer, report, skipped } from './fixtures.ts';

describe('csv', () => {
  it('quotes fields with commas, quotes and line breaks; empties missing values', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(null)).toBe('');
    expect(csvField(Number.NaN)).toBe('');
    expect(csvField(0.125)).toBe('0.125');
    expect(csvField(true)).toBe('true');
  });

  it('writes a header and CRLF lines', () => {
    expect(toCsv([{ header: 'x', value: (r: number) => r }], [1, 2])).toBe('x\r\n1\r\n2\r\n');
  });

  it("exports a run's layers with micro-tile densities and every variant", () => {
    const csv = runCsv(report(1, [layer(0, 2, 1), skipped(1)]));
    const [head, l0, l1] = csv.trim().split('\r\n');
    const cols = head!.split(',');
    expect(cols.slice(0, 8)).toEqual(['input', 'layer', 'name', 'op', 'M', 'N', 'K', 'sparsity']);
    expect(cols).toContain('density 32x1');
    expect(cols).toContain('pit-k detect ms');
    expect(cols.at(-1)).toBe('skipped');
    const v0 = l0!.split(',');
    expect(v0[cols.indexOf('chosen')]).toBe('pit-k');
    expect(Number(v0[cols.indexOf('speedup over dense')])).toBeCloseTo(2 / 1.1);
    const v1 = l1!.split(',');
    expect(v1[cols.indexOf('sparsity')]).toBe('');
    expect(v1.at(-1)).toBe('grouped conv (group=16)');
  });

  it('exports the compare table with Δ as a fraction', () => {
    const { rows } = compareRuns(report(1, [layer(0, 2, 3)]), report(2, [layer(0, 2, 0.9)]));
    const [head, row] = compareCsv(rows, 'run 1', 'run 2').trim().split('\r\n');
    expect(head).toBe('input,layer,name,op,shape,chosen run 1,chosen run 2,ms run 1,ms run 2,delta ms,delta fraction,dense ms run 1,dense ms run 2');
    const cells = row!.split(',');
    expect(Number(cells[10])).toBeCloseTo(-0.5);
  });
});
