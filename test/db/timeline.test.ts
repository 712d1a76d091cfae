/**
 * Migration v4 and the reads issue 13 added: the reference time per input and the readback per layer round-trip;
 * `getRunLayersSince` returns exactly the layers recorded after a cursor (none twice, none skipped) without heat
 * maps; `getLayerHeatmap` returns one layer's map; `getRunModel` the run's model; a report can leave heat maps out.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunNotFoundError, RunStateError } from '../../db/errors.ts';
import { MIGRATIONS } from '../../db/migrations.ts';
import { openDatabase, type PitDatabase } from '../../db/open.ts';
import { createRun, getLayerHeatmap, getRunLayersSince, getRunModel, getRunReport, recordLayer, recordReference } from '../../db/runs.ts';
import { K_DENSE, K_DETECT, K_PITK, layer0, layer0input1, layer1, layer2, MODEL, newRun, tempDir } from './fixtures.ts';

describe('timeline fields and incremental reads (migration v4)', () => {
  let cleanup: () => void;
  let db: PitDatabase;
  beforeEach(() => {
    const t = tempDir();
    cleanup = t.cleanup;
    db = openDatabase(join(t.dir, 'pit.db'));
  });
  afterEach(() => {
    db.close();
    cleanup();
  });

  it('is migration 4, adding the two columns', () => {
    expect(MIGRATIONS[3]).toMatchObject({ version: 4 });
    const cols = (t: string) => (db.prepare(`PRAGMA table_info(${t})`).all() as { name: string }[]).map((c) => c.name);
    expect(cols('inputs')).toContain('reference_ms');
    expect(cols('layers')).toContain('readback_ms');
  });

  it('stores the reference time per input and the readback per layer', () => {
    const id = createRun(db, newRun());
    recordReference(db, id, 1, 812.5);
    recordLayer(db, id, { ...layer0(), readbackMs: 0.375 }, [K_DENSE, K_DETECT, K_PITK]);
    const r = getRunReport(db, id);
    expect(r.run.inputs.map((i) => i.referenceMs)).toEqual([undefined, 812.5]);
    expect(r.layers[0]!.readbackMs).toBe(0.375);
    expect(() => recordReference(db, id, 5, 1)).toThrow(RunStateError);
    expect(() => recordReference(db, id + 1, 0, 1)).toThrow(RunNotFoundError);
    expect(() => recordReference(db, id, 0, -1)).toThrow(/CHECK/);
  });

  it('sends each layer once after the cursor, in recording order, without heat maps', () => {
    const id = createRun(db, newRun());
    const first = getRunLayersSince(db, id, 0);
    expect(first.layers).toEqual([]);
    expect(first.cursor).toBe(0);
    recordLayer(db, id, layer0(), [K_DENSE, K_DETECT, K_PITK]);
    recordLayer(db, id, layer1(), []);
    const a = getRunLayersSince(db, id, first.cursor);
    expect(a.layers.map((l) => [l.input, l.index])).toEqual([[0, 0], [0, 1]]);
    expect(a.layers[0]!.heatmap).toBeUndefined();
    expect(a.totals.chosenMs).toBeCloseTo(1.25 + 2, 9);
    expect(getRunLayersSince(db, id, a.cursor)).toMatchObject({ layers: [], cursor: a.cursor });
    recordLayer(db, id, layer2(), []);
    recordLayer(db, id, layer0input1(), []);
    const b = getRunLayersSince(db, id, a.cursor);
    expect(b.layers.map((l) => [l.input, l.index, l.skipped ?? ''])).toEqual([[0, 2, 'grouped conv (group=32)'], [1, 0, '']]);
    expect(b.cursor).toBeGreaterThan(a.cursor);
    expect(b.run.id).toBe(id);
    // Everything sent in pieces is the whole run, field for field (heat maps aside).
    const whole = getRunReport(db, id, { heatmaps: false });
    expect([...a.layers, ...b.layers]).toEqual(whole.layers);
    expect(() => getRunLayersSince(db, id + 1, 0)).toThrow(RunNotFoundError);
  });

  it('reads one heat map on demand, and leaves them out of a report when asked', () => {
    const id = createRun(db, newRun());
    recordLayer(db, id, layer0(), [K_DENSE, K_DETECT, K_PITK]);
    recordLayer(db, id, layer2(), []);
    expect(getLayerHeatmap(db, id, 0, 0)).toEqual(layer0().heatmap);
    expect(getLayerHeatmap(db, id, 0, 2)).toBeNull();
    expect(getLayerHeatmap(db, id, 1, 0)).toBeNull();
    expect(() => getLayerHeatmap(db, id + 9, 0, 0)).toThrow(RunNotFoundError);
    expect(getRunReport(db, id).layers[0]!.heatmap).toEqual(layer0().heatmap);
    expect(getRunReport(db, id, { heatmaps: false }).layers[0]!.heatmap).toBeUndefined();
  });

  it("names a run's model", () => {
    const id = createRun(db, newRun());
    expect(getRunModel(db, id)).toEqual(MODEL);
    expect(getRunModel(db, id + 1)).toBeNull();
  });
});
