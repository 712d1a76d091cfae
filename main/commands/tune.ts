/**
 * `pit tune`: builds the tile database of this adapter (core/pit/tuner.ts) in the run database, resumable and
 * cancellable; and `lookupTileDb`, which finds the database a profile may use (or says why none fits).
 */
import { parseArgs } from 'node:util';
import type Database from 'better-sqlite3';
import { acquireDevice, describeAdapter } from '../../core/gpu/device.ts';
import { nodeGpu } from '../../core/gpu/node-gpu.ts';
import { PipelineCache } from '../../core/gpu/pipeline-cache.ts';
import type { TileDbLookup } from '../../core/profile/profile.ts';
import { configId, spaceConfigs } from '../../core/pit/rules.ts';
import { kernelSourcesHash, pointKey, tileDbMismatch, TileModel, TUNER_VERSION } from '../../core/pit/tiledb.ts';
import { fullPlan, pointLabel, quickPlan, tune, type TuneEvent } from '../../core/pit/tuner.ts';
import type { AdapterDescriptor } from '../../core/protocol.ts';
import { listTileDbs, loadTileDb, openTileDb, recordTilePoint, tileDbsForAdapter, tilePointKeys } from '../../db/tiledb.ts';
import { cancelOnSignals, DB_HELP, openDb, VERBOSE_HELP, type Command } from './common.ts';

/**
 * The tile database a profile on `adapter` may use: the most recently updated one of this adapter whose kernel hash
 * and tuner version match the current kernels. Otherwise `snapshot` is null and `note` says what exists and why it
 * does not fit (another adapter's or other kernels' databases are never used silently).
 */
export function lookupTileDb(db: Database.Database, adapter: AdapterDescriptor): TileDbLookup {
  const hash = kernelSourcesHash();
  const mine = tileDbsForAdapter(db, adapter);
  const match = mine.find((t) => !tileDbMismatch(t, adapter, hash) && t.points > 0);
  if (match) return { snapshot: loadTileDb(db, match.id) };
  if (mine.length) return { snapshot: null, note: `tile database ${mine[0]!.id} of this adapter does not fit: ${tileDbMismatch(mine[0]!, adapter, hash) ?? 'it has no points'}` };
  const others = listTileDbs(db);
  if (others.length) return { snapshot: null, note: `the ${others.length} tile database(s) here were tuned on other adapters` };
  return { snapshot: null };
}

function fmtDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export const tuneCommand: Command = {
  name: 'tune',
  summary: 'measure the tile database of this GPU (kernel costs by micro-tile, tile and sparsity)',
  help: `Usage: pit tune [--quick] [options]

Measures every kernel configuration PIT Studio chooses among — dense computation tiles, pit-k micro-tiles
4x1…32x1, pit-m micro-tiles 1x16…1x64 and whole rows, with their detection — on a sparsity grid and a few problem
sizes, verifies each output against the CPU reference (a failing configuration is stored as failed and never
chosen), and stores the points in the run database under this adapter and a hash of the kernel sources. Points
already measured are skipped, so an interrupted tune resumes where it stopped, and a full tune adds to a quick one.
\`pit profile\` then predicts instead of measuring (policy tiledb).

Options:
  --quick             sparsity grid {0, 0.5, 0.8, 0.9, 0.95, 0.99} on 5 sizes, the lowest of 7 single runs
                      (under 2 minutes on lavapipe); default: 12 sparsities, 7 sizes, lowest of 9
  --list              list the tile databases in the run database and exit
${DB_HELP}
  -q, --quiet         no per-point progress on stderr
${VERBOSE_HELP}
  -h, --help          show this help

Ctrl-C (or SIGTERM, SIGHUP) stops after the point in flight: measured points stay stored (run pit tune again to
resume).
Exit codes: 0 done, 1 error, 2 bad usage, 130 cancelled by Ctrl-C, 143 by SIGTERM, 129 by SIGHUP.`,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean' },
        list: { type: 'boolean' },
        db: { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) return console.log(this.help), 0;
    const { db, path: dbPath } = openDb(values.db, values.list ? 'read' : 'write');
    if (values.list) {
      try {
        const hash = kernelSourcesHash();
        for (const t of listTileDbs(db)) {
          const current = t.kernelHash === hash && t.tunerVersion === TUNER_VERSION ? 'current kernels' : 'OTHER kernel sources';
          console.log(
            `tile database ${t.id}: ${describeAdapter(t.adapter)} — ${t.points} points (${t.failed} failed), ${current}, ` +
              `kernel hash ${t.kernelHash.slice(0, 12)}…, updated ${t.updatedAt}`,
          );
        }
        return 0;
      } finally {
        db.close();
      }
    }
    const abort = new AbortController();
    const signals = cancelOnSignals(abort, 'stopping after the point in flight; measured points stay stored');
    let gpu;
    try {
      gpu = await acquireDevice(nodeGpu(undefined, { verbose: !!values.verbose }));
      const plan = values.quick ? quickPlan() : fullPlan();
      const kernelHash = kernelSourcesHash();
      const id = openTileDb(db, { adapter: gpu.adapter, kernelHash, tunerVersion: TUNER_VERSION });
      const have = tilePointKeys(db, id);
      console.error(
        `pit: tuning (${plan.name}) on ${describeAdapter(gpu.adapter)}; tile database ${id} (kernel hash ${kernelHash.slice(0, 12)}…) in ${dbPath}` +
          `; ${spaceConfigs().length} configurations, ${plan.sizes.length} sizes, ${plan.sparsities.length} sparsities`,
      );
      const t0 = performance.now();
      const onEvent = (e: TuneEvent) => {
        if (values.quiet) return;
        if (e.kind === 'start') console.error(`pit: ${e.total} points to measure${e.skipped ? `, ${e.skipped} already stored (skipped)` : ''}`);
        else if (e.kind === 'log') console.error(`pit: ${e.message}`);
        else {
          const p = e.point;
          const what = p.ok ? `${p.kernelMs.toFixed(3)} ms${p.family === 'dense' ? '' : ` + detection ${p.detectMs.toFixed(3)} ms`} (density ${p.density.toFixed(3)})` : `FAILED: ${p.error}`;
          console.error(`[${e.done}/${e.total}] ${pointLabel(p)} → ${what}  ETA ${fmtDuration(e.etaMs)}`);
        }
      };
      const summary = await tune(
        gpu,
        new PipelineCache(gpu.device),
        plan,
        { has: (key) => have.has(key), record: (p) => recordTilePoint(db, id, pointKey(p), p) },
        { signal: abort.signal, onEvent },
      );
      const snapshot = loadTileDb(db, id)!;
      const model = new TileModel(snapshot.points);
      console.log(
        `tile database ${id}: ${snapshot.points.length} points (${summary.measured} measured now, ${summary.skipped} already stored, ` +
          `${summary.failed} failed) in ${fmtDuration(performance.now() - t0)}${summary.cancelled ? ' — CANCELLED, run again to resume' : ''}`,
      );
      for (const c of spaceConfigs()) {
        const km = model.kernelModel(c);
        const dm = model.detectModel(c);
        console.log(
          `  ${configId(c).padEnd(30)} ${km ? `${km.points} points, fit median error ${(km.medianRelErr * 100).toFixed(1)} %` : 'no usable points'}` +
            (dm ? `; detection ${(dm.medianRelErr * 100).toFixed(1)} %` : ''),
        );
      }
      return summary.cancelled ? signals.exitCode() || 130 : 0;
    } finally {
      signals.dispose();
      gpu?.destroy();
      db.close();
    }
  },
};
