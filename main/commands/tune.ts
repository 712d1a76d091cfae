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
import { configId } from '../../core/pit/rules.ts';
import { pointKey, tileDbDtypeOf, tileDbHash, tileDbMismatch, TileModel, TUNER_VERSION } from '../../core/pit/tiledb.ts';
import { fullPlan, pointLabel, quickPlan, tune, tuneSpace, type TuneEvent } from '../../core/pit/tuner.ts';
import type { AdapterDescriptor, ComputeDtype } from '../../core/protocol.ts';
import { listTileDbs, loadTileDb, openTileDb, recordTilePoint, tileDbsForAdapter, tilePointKeys } from '../../db/tiledb.ts';
import { cancelOnSignals, DB_HELP, openDb, UsageError, VERBOSE_HELP, type Command } from './common.ts';

/**
 * The tile database a profile of `dtype` (default f32) on `adapter` may use: the most recently updated one of this
 * adapter whose kernel hash (`tileDbHash(dtype, adapter)`: an f16 database has its own) and tuner version match the
 * current kernels. Otherwise `snapshot` is null and `note` says what exists and why it does not fit (another
 * adapter's, other kernels' or another dtype's databases are never used silently).
 */
export function lookupTileDb(db: Database.Database, adapter: AdapterDescriptor, dtype: ComputeDtype = 'f32'): TileDbLookup {
  const hash = tileDbHash(dtype, adapter);
  const all = tileDbsForAdapter(db, adapter);
  // Databases of this dtype: by the current hash, else (other kernel sources) by the families of their points (f32
  // for one without points, as every database was before dtypes).
  const current = (['f32', 'f16'] as const).map((d) => tileDbHash(d, adapter));
  const mine = all.filter((t) => t.kernelHash === hash || (!current.includes(t.kernelHash) && tileDbDtypeOf(t.families) === dtype));
  const match = mine.find((t) => !tileDbMismatch(t, adapter, hash) && t.points > 0);
  if (match) return { snapshot: loadTileDb(db, match.id) };
  if (mine.length) return { snapshot: null, note: `tile database ${mine[0]!.id} of this adapter does not fit: ${tileDbMismatch(mine[0]!, adapter, hash) ?? 'it has no points'}` };
  const tuneCmd = dtype === 'f32' ? '`pit tune`' : `\`pit tune --dtype ${dtype}\``;
  if (all.length) return { snapshot: null, note: `this adapter has no ${dtype} tile database (${all.length} of other dtypes; run ${tuneCmd})` };
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
  help: `Usage: pit tune [--quick] [--dtype f16|f32] [options]

Measures every kernel configuration PIT Studio chooses among — dense computation tiles, pit-k micro-tiles
4x1…32x1, pit-m micro-tiles 1x16…1x64 and whole rows, with their detection — on a sparsity grid and a few problem
sizes, verifies each output against the CPU reference (a failing configuration is stored as failed and never
chosen), and stores the points in the run database under this adapter and a hash of the kernel sources. Points
already measured are skipped, so an interrupted tune resumes where it stopped, and a full tune adds to a quick one.
\`pit profile\` then predicts instead of measuring (policy tiledb).

A tile database holds one operand dtype. --dtype f16 tunes the f16 families (dense-f16, pit-k-f16, pit-m-f16: f16
operands, f32 accumulation) with the tiles this adapter runs (tensor-core tiles where it has subgroup matrices, f16
SIMT tiles elsewhere), verifying each output against the product of the operands rounded to f16, into a database of
its own that \`pit profile --dtype f16\` uses (f32 profiles never see it, nor f16 profiles an f32 one). It needs the
WebGPU feature shader-f16 (an adapter without it is an error; nothing is created).

Options:
  --dtype D           f32 (default) or f16: which families, and which tile database, to tune
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
        dtype: { type: 'string' },
        list: { type: 'boolean' },
        db: { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) return console.log(this.help), 0;
    const dtype = values.dtype ?? 'f32';
    if (dtype !== 'f16' && dtype !== 'f32') throw new UsageError(`--dtype must be f16 or f32, got '${dtype}'`);
    if (values.list) {
      const { db } = openDb(values.db, 'read');
      try {
        const hashes = { f32: tileDbHash('f32'), f16: tileDbHash('f16') };
        for (const t of listTileDbs(db)) {
          // The dtype is that of the families of its points (of the hash, for a database without points).
          const d: ComputeDtype = t.families.length ? tileDbDtypeOf(t.families) : t.kernelHash === hashes.f16 ? 'f16' : 'f32';
          // Without the device its f16 space is not known (tensor-core tiles where it has subgroup matrices): a hash
          // other than the SIMT space's is checked when a profile or tune opens it on the device.
          const fresh = t.kernelHash === hashes[d] && t.tunerVersion === TUNER_VERSION;
          const current = fresh ? 'current kernels' : d === 'f16' ? 'f16 kernels of a tensor-core adapter, or OTHER kernel sources' : 'OTHER kernel sources';
          console.log(
            `tile database ${t.id} (${d}): ${describeAdapter(t.adapter)} — ${t.points} points (${t.failed} failed), ${current}, ` +
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
    let db: Database.Database | undefined;
    try {
      gpu = await acquireDevice(nodeGpu(undefined, { verbose: !!values.verbose }));
      // Checked before the run database is opened: a refused dtype creates nothing.
      const space = tuneSpace(dtype, gpu.adapter);
      const opened = openDb(values.db, 'write');
      db = opened.db;
      const plan = values.quick ? quickPlan(space.configs) : fullPlan(space.configs);
      const { kernelHash } = space;
      const id = openTileDb(db, { adapter: gpu.adapter, kernelHash, tunerVersion: TUNER_VERSION });
      const have = tilePointKeys(db, id);
      console.error(
        `pit: tuning ${dtype} (${plan.name}) on ${describeAdapter(gpu.adapter)}; tile database ${id} (kernel hash ${kernelHash.slice(0, 12)}…) in ${opened.path}` +
          `; ${space.configs.length} configurations, ${plan.sizes.length} sizes, ${plan.sparsities.length} sparsities`,
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
      const store = db;
      const summary = await tune(
        gpu,
        new PipelineCache(gpu.device),
        plan,
        { has: (key) => have.has(key), record: (p) => recordTilePoint(store, id, pointKey(p), p) },
        { signal: abort.signal, onEvent },
      );
      const snapshot = loadTileDb(db, id)!;
      const model = new TileModel(snapshot.points);
      console.log(
        `tile database ${id} (${dtype}): ${snapshot.points.length} points (${summary.measured} measured now, ${summary.skipped} already stored, ` +
          `${summary.failed} failed) in ${fmtDuration(performance.now() - t0)}${summary.cancelled ? ' — CANCELLED, run again to resume' : ''}`,
      );
      for (const c of space.configs) {
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
      db?.close();
    }
  },
};
