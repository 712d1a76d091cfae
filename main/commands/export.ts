/**
 * `pit export RUN --out DIR`: writes a run's tuned kernels as a kernel set (core/export): one WGSL file per distinct
 * kernel, `manifest.json` (validated against `manifest.schema.json` before anything is written), the dependency-free
 * loader `pit-kernels.mjs`, fixtures and `verify.mjs`.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type Database from 'better-sqlite3';
import { buildKernelSet, ExportError, type RecordedKernel } from '../../core/export/kernel-set.ts';
import { LOADER_SOURCE } from '../../core/export/loader-template.ts';
import { manifestErrors, MANIFEST_SCHEMA } from '../../core/export/schema.ts';
import { VERIFY_SOURCE } from '../../core/export/verify-template.ts';
import { importOnnx } from '../../core/model/onnx-import.ts';
import { findSparseOps } from '../../core/model/sparse-ops.ts';
import type { DeviceCaps } from '../../core/kernels/family.ts';
import { TileModel, tileDbHash, tileDbMismatch } from '../../core/pit/tiledb.ts';
import type { RunReport } from '../../core/protocol.ts';
import { getKernelWgsl, getLayerKernels, getRunReport } from '../../db/runs.ts';
import { loadTileDb } from '../../db/tiledb.ts';
import { DB_HELP, openDb, UsageError, type Command } from './common.ts';
import { lookupTileDb } from './tune.ts';
import { writeFolder } from './write-folder.ts';

/** Version written into manifests as the generator. */
const GENERATOR = 'PIT Studio 0.1.0';

/** The device capabilities a run kept (`options.gpu`, null where unknown), as the f16 tile-database hash needs them. */
function runCaps(options: Record<string, unknown>): DeviceCaps {
  const g = (options.gpu ?? {}) as { [K in keyof DeviceCaps]?: DeviceCaps[K] | null };
  const caps: DeviceCaps = {};
  if (typeof g.shaderF16 === 'boolean') caps.shaderF16 = g.shaderF16;
  if (typeof g.subgroups === 'boolean') caps.subgroups = g.subgroups;
  if (g.subgroupSizes) caps.subgroupSizes = g.subgroupSizes;
  if (g.subgroupMatrixConfigs) caps.subgroupMatrixConfigs = g.subgroupMatrixConfigs;
  return caps;
}

/**
 * The layer records an incomplete run lacks, as `input i: name, name…` lines: every sparse-capable operator of the
 * model (the first maxLayers, as the run was asked) on every input, minus those recorded. Needs the model file;
 * says so when it is gone or changed.
 */
export function missingLayers(db: Database.Database, report: RunReport): string {
  const row = db.prepare('SELECT options_json FROM runs WHERE id = ?').get(report.run.id) as { options_json: string } | undefined;
  const maxLayers = (JSON.parse(row?.options_json ?? '{}') as { maxLayers?: number | null }).maxLayers ?? null;
  let names: string[];
  try {
    const model = importOnnx(report.run.model.path);
    if (model.sha256 !== report.run.model.sha256) return `(cannot list them: ${report.run.model.path} changed since the run)`;
    const ops = findSparseOps(model);
    names = (maxLayers ? ops.slice(0, maxLayers) : ops).map((o) => o.name);
  } catch (e) {
    return `(cannot list them: ${(e as Error).message.split('\n')[0]})`;
  }
  const lines: string[] = [];
  let total = 0;
  report.run.inputs.forEach((inp, i) => {
    const have = new Set(report.layers.filter((l) => l.input === i).map((l) => l.name));
    const missing = names.filter((n) => !have.has(n));
    total += missing.length;
    if (missing.length) lines.push(`input ${i} (${inp.path}): ${missing.length} missing: ${missing.join(', ')}`);
  });
  return total ? `${total} layer record(s) missing — ${lines.join('; ')}` : 'every layer is recorded, but the run was not marked complete';
}

export const exportCommand: Command = {
  name: 'export',
  summary: "export a run's chosen kernels as a verified, standalone kernel set",
  help: `Usage: pit export RUN --out DIR [options]

Writes the kernels run RUN chose, per layer, as a kernel set that runs without PIT Studio:
  kernels/*.wgsl        one file per distinct kernel (the exact text the run measured)
  manifest.json         format version, model sha256, adapter, and per layer: operator, shape, PIT rule,
                        micro-tile, computation tile, the density threshold below which the sparse kernel beats
                        dense, the detection kernel, bindings, workgroup size and dispatch formula
  manifest.schema.json  its JSON Schema (the manifest is validated against it before anything is written)
  pit-kernels.mjs       a dependency-free ES module that runs the set on any GPUDevice (browser or dawn.node)
  fixtures/*.npy        small synthetic inputs and float64 reference outputs for every kernel
  verify.mjs            with only 'webgpu' installed beside it: runs every kernel on the fixtures; exit 0 all
                        passed, 1 a kernel failed (named), 2 the set is not as exported (a kernel's sha256
                        differs from the manifest, a fixture truncated or its tolerance outside the range
                        derived from its data) or no GPU
The set is written into a temporary folder beside DIR and renamed into place when complete: a failed export
(disk full…) leaves nothing behind and can be run again.
The run must be complete (an incomplete one is refused with the layers it lacks) and its kernels must be the ones
the current sources generate. Thresholds come from the tile database (pit tune) when one matches, else from the
run's measurements.

Options:
  --out DIR           directory to write (created; must be empty unless --force)
  --force             write into a non-empty directory (files of the set are replaced, each atomically)
${DB_HELP}
  -h, --help          show this help

Exit codes: 0 written, 1 error (one line on stderr), 2 bad usage.`,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        force: { type: 'boolean' },
        db: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) return console.log(this.help), 0;
    if (positionals.length !== 1 || !/^\d+$/.test(positionals[0]!)) throw new UsageError('give exactly one RUN id (see pit runs)');
    if (!values.out) throw new UsageError('--out DIR is required');
    const runId = Number(positionals[0]);
    const out = resolve(values.out);
    if (existsSync(out) && (!statSync(out).isDirectory() || readdirSync(out).length) && !values.force) {
      throw new UsageError(`${out} ${statSync(out).isDirectory() ? 'is not empty (use --force to write into it)' : 'is a file, not a folder'}`);
    }

    const { db } = openDb(values.db, 'read');
    try {
      const report = getRunReport(db, runId);
      if (!report.run.complete) {
        throw new ExportError(`run ${runId} is incomplete (${report.run.status || 'running'}): ${missingLayers(db, report)}`);
      }
      // Thresholds: the run's own tile database if it still fits these kernels, else any of the run's dtype that fits
      // this adapter (an f16 database's hash depends on the device's caps, kept with the run).
      const dtype = report.run.dtype ?? 'f32';
      const adapter = { ...report.run.adapter, ...runCaps(report.run.options) };
      const hash = tileDbHash(dtype, adapter);
      let snapshot = report.run.policy?.tileDb ? loadTileDb(db, report.run.policy.tileDb.id) : null;
      if (snapshot && tileDbMismatch(snapshot, adapter, hash)) snapshot = null;
      snapshot ??= lookupTileDb(db, adapter, dtype).snapshot;
      const cache = new Map<string, Record<string, { hash: string; label: string }[]>>();
      const kernelsOf = (input: number, layer: number, variant: string): RecordedKernel[] => {
        const key = `${input}|${layer}`;
        let byVariant = cache.get(key);
        if (!byVariant) cache.set(key, (byVariant = getLayerKernels(db, runId, input, layer)));
        return (byVariant[variant] ?? []).map((k) => ({ hash: k.hash, label: k.label, wgsl: getKernelWgsl(db, k.hash) ?? '' }));
      };
      const set = buildKernelSet({
        report,
        kernelsOf,
        tileModel: snapshot ? new TileModel(snapshot.points) : null,
        tileDb: snapshot ? { id: snapshot.id, kernelHash: snapshot.kernelHash } : null,
        generator: GENERATOR,
        createdAt: new Date().toISOString(),
      });
      const errors = manifestErrors(set.manifest);
      if (errors.length) throw new ExportError(`the manifest does not match its schema (a bug; nothing written): ${errors.slice(0, 3).join('; ')}`);
      const files = new Map<string, string | Uint8Array>(set.files);
      files.set('manifest.json', JSON.stringify(set.manifest, null, 2) + '\n');
      files.set('manifest.schema.json', JSON.stringify(MANIFEST_SCHEMA, null, 2) + '\n');
      files.set('pit-kernels.mjs', LOADER_SOURCE);
      files.set('verify.mjs', VERIFY_SOURCE);
      writeFolder(out, files, { force: !!values.force });
      const m = set.manifest;
      const sparse = m.layers.filter((l) => l.plan.rule.family !== 'dense').length;
      console.log(
        `kernel set of run ${runId} written to ${out}: ${m.layers.length} layers (${sparse} sparse, ${m.skipped.length} skipped), ` +
          `${m.kernels.length} kernels, ${m.fixtures.length} fixtures; thresholds from ${m.tileDb ? `tile database ${m.tileDb.id}` : 'the run\u2019s measurements'}`,
      );
      console.log(`verify it anywhere with: cd ${out} && npm install webgpu && node verify.mjs`);
      return 0;
    } finally {
      db.close();
    }
  },
};
