/**
 * `pit ocr-batch` end to end through the bundled CLI, with small limits: det on two real photos, two text lines
 * (one from each, round-robin), the first rec layers profiled three ways and verified; and bad input (an unreadable
 * photo, a photo without text, bad flags), each a one-line error with nothing stored.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import type { OcrBatchReport } from '../../core/ocr/job.ts';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'pit-ocr-batch-'));
const demo = join(root, 'node_modules/@vladmandic/face-api/demo');

function pit(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [join(root, 'bin', 'pit.mjs'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, PIT_DB: join(dir, 'default.db') },
    timeout: 300_000,
  });
}

function expectOneLineError(r: SpawnSyncReturns<string>, pattern: RegExp, status = 1): void {
  expect(r.status, r.stderr).toBe(status);
  const lines = r.stderr.trim().split('\n').filter((s) => s.startsWith('pit '));
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

function runCount(db: string): number {
  if (!existsSync(db)) return 0;
  const d = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return (d.prepare('SELECT COUNT(*) AS n FROM runs').get() as { n: number }).n;
  } finally {
    d.close();
  }
}

beforeAll(() => {
  const b = spawnSync(process.execPath, [join(root, 'scripts', 'build-cli.mjs')], { encoding: 'utf8', cwd: root });
  expect(b.status, b.stderr).toBe(0);
});

describe('pit ocr-batch', () => {
  it('two real lines from two photos: padded dense vs pit-m-seqlen vs each alone, verified and stored', () => {
    const db = join(dir, 'ok.db');
    const json = join(dir, 'ok.json');
    const r = pit(['ocr-batch', '--images', join(demo, 'screenshot-webcam.png'), join(demo, 'sample1.jpg'), '--max-lines', '2', '--max-layers', '3', '--repeat', '1', '--warmup-ms', '0', '--db', db, '--json', json]);
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(readFileSync(json, 'utf8')) as OcrBatchReport;
    // Round-robin: one line of each photo; the batch sorted by aspect ratio.
    expect(rep.lines).toHaveLength(2);
    expect(new Set(rep.lines.map((l) => basename(l.photo)))).toEqual(new Set(['screenshot-webcam.png', 'sample1.jpg']));
    const ratios = rep.lines.map((l) => l.width / l.height);
    expect(ratios[0]).toBeLessThanOrEqual(ratios[1]!);
    // Geometry as PaddleOCR: height 48, width int(48·max(320/48, widest)), padding share from the valid widths.
    const [n, c, h, w] = rep.batch.dims as [number, number, number, number];
    expect([n, c, h]).toEqual([2, 3, 48]);
    expect(w).toBe(Math.trunc(48 * Math.max(320 / 48, ...ratios)));
    for (const l of rep.lines) expect(l.resizedWidth).toBe(Math.min(w, Math.ceil((48 * l.width) / l.height)));
    expect(rep.batch.paddingShare).toBeCloseTo(1 - (rep.lines[0]!.resizedWidth + rep.lines[1]!.resizedWidth) / (2 * w), 12);
    // The rec model gives ceil(width / 8) tokens (stride 2, 2 and a 2-wide pool along the width).
    expect(rep.batch.tokens).toBe(Math.ceil(w / 8));
    for (const l of rep.lines) expect(l.tokens).toBe(Math.ceil(l.resizedWidth / 8));
    expect(rep.lines.some((l) => l.textAlone.includes('FPS'))).toBe(true);
    // Layers: Conv.0 and Conv.2 profiled three ways with the length index; the depthwise Conv.1 profiled as a batched
    // layer (groups as the batch), without one.
    expect(rep.layers.map((l) => l.name)).toEqual(['p2o.Conv.0', 'p2o.Conv.1', 'p2o.Conv.2']);
    expect(rep.layers[1]!.skipped).toBeUndefined();
    for (const l of [rep.layers[0]!, rep.layers[2]!]) {
      // Rows (n, h, w) of a [2, C, 24, w/2] output, valid where w < ceil(valid width / 2).
      expect(l.m).toBe(2 * 24 * Math.ceil(w / 2));
      expect(l.validRows).toBe(24 * rep.lines.reduce((s, x) => s + Math.ceil(x.resizedWidth / 2), 0));
      expect(l.pitOk).toBe(true);
      expect(l.pitMs).toBeGreaterThan(0);
      expect(l.paddedDenseMs).toBeGreaterThan(0);
      expect(l.aloneMs).toHaveLength(2);
      expect(l.verified).toBe(true);
    }
    expect(rep.totals.verified).toBe(true);
    expect(rep.totals.indexed).toBe(2);
    expect(rep.check.argmaxAgreement).toBeGreaterThan(0.5);
    expect(r.stdout).toMatch(/padded dense .* ms → PIT \(pit-m-seqlen\)/);
    expect(r.stdout).toMatch(/batch \[2, 3, 48, \d+\]: padding \d+\.\d % of the input pixels/);
    // The padded batch is stored as a run, with the seqlen variants.
    const d = new Database(db, { readonly: true, fileMustExist: true });
    try {
      expect(runCount(db)).toBe(1);
      const names = (d.prepare('SELECT DISTINCT variant FROM measurements').all() as { variant: string }[]).map((x) => x.variant);
      expect(names.some((v) => v.startsWith('pit-m-seqlen '))).toBe(true);
    } finally {
      d.close();
    }
  });

  it('an unreadable photo: one line naming it, nothing stored', () => {
    const db = join(dir, 'bad.db');
    const bad = join(dir, 'broken.png');
    writeFileSync(bad, 'not a png');
    expectOneLineError(pit(['ocr-batch', '--images', join(demo, 'sample1.jpg'), bad, '--db', db]), /cannot decode image .*broken\.png/);
    expect(runCount(db)).toBe(0);
  });

  it('a photo without text: one line saying so, nothing stored', () => {
    const db = join(dir, 'none.db');
    expectOneLineError(pit(['ocr-batch', '--images', join(demo, 'sample2.jpg'), '--db', db]), /no text line found in sample2\.jpg .*nothing to recognise/);
    expect(runCount(db)).toBe(0);
  });

  it('bad flags are usage errors (exit 2)', () => {
    expectOneLineError(pit(['ocr-batch', '--max-lines', '0']), /--max-lines must be a positive integer/, 2);
    expectOneLineError(pit(['ocr-batch', '--variants', 'dense,nope']), /unknown kernel family 'nope'/, 2);
    expectOneLineError(pit(['ocr-batch', 'photo.png']), /photos go after --images/, 2);
    expectOneLineError(pit(['profile', '--variants', 'pit-m-seqlen']), /needs validRows .* `pit ocr-batch`/, 2);
  });
});
