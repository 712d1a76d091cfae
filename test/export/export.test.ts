/**
 * `pit export` end to end on a synthetic model (two ReLU → MatMul layers fed with zero rows, labelled so), profiled
 * with policy tiledb against a SYNTHETIC tile database stored in the run database: the kernel set validates against
 * its JSON Schema, `verify.mjs` passes when copied alone beside the `webgpu` package, names the kernel when a WGSL
 * file is tampered with, and an incomplete run or changed kernel sources are refused with the reason.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildKernelSet } from '../../core/export/kernel-set.ts';
import { LOADER_SOURCE } from '../../core/export/loader-template.ts';
import { VERIFY_SOURCE } from '../../core/export/verify-template.ts';
import { compareOutputs, matmulErrorScale, referenceMatmul } from '../../core/kernels/reference.ts';
import { structuredOperand } from '../../core/pit/tuner.ts';
import type { KernelSetManifest } from '../../core/export/manifest.ts';
import { manifestErrors } from '../../core/export/schema.ts';
import { kernelSourcesHash, pointKey, TUNER_VERSION } from '../../core/pit/tiledb.ts';
import { profileModel } from '../../core/profile/profile.ts';
import { openDatabase, type PitDatabase } from '../../db/open.ts';
import { createRun, failRun, getKernelWgsl, getLayerKernels, getRunReport, recordLayer } from '../../db/runs.ts';
import { openTileDb, recordTilePoint } from '../../db/tiledb.ts';
import { exportCommand } from '../../main/commands/export.ts';
import { lookupTileDb } from '../../main/commands/tune.ts';
import { dbSink } from '../../main/host/db-sink.ts';
import { testGpu, type TestGpu } from '../gpu-helpers.ts';
import { npyBytes } from '../inputs/npy-fixtures.ts';
import { buildModel, randomFloats } from '../model/onnx-builders.ts';
import { syntheticPoints } from '../pit/synthetic-tiledb.ts';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'pit-export-'));
const modelPath = join(dir, 'synthetic-two-matmuls.onnx');
const inputPath = join(dir, 'x.npy');
const dbPath = join(dir, 'pit.db');

/** Runs `node verify.mjs` in `set`. */
function verify(set: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['verify.mjs'], { cwd: set, encoding: 'utf8', timeout: 120_000 });
}

/** Copies an exported set alone into a fresh directory with only `webgpu` beside it (a symlink to ours). */
function isolate(set: string): string {
  const to = mkdtempSync(join(tmpdir(), 'pit-kernel-set-'));
  cpSync(set, to, { recursive: true });
  mkdirSync(join(to, 'node_modules'));
  symlinkSync(join(root, 'node_modules', 'webgpu'), join(to, 'node_modules', 'webgpu'), 'dir');
  return to;
}

describe('pit export', () => {
  let g: TestGpu;
  let db: PitDatabase;
  let runId: number;
  let out: string;

  beforeAll(async () => {
    g = await testGpu();
    writeFileSync(
      modelPath,
      buildModel({
        inputs: [{ name: 'x', dims: [256, 128] }],
        outputs: [{ name: 'y', dims: [256, 64] }],
        initializers: [
          { name: 'W1', dims: [128, 128], data: randomFloats(128 * 128, 1) },
          { name: 'W2', dims: [128, 64], data: randomFloats(128 * 64, 2) },
        ],
        nodes: [
          { op: 'Relu', inputs: ['x'], outputs: ['r1'] },
          { op: 'MatMul', inputs: ['r1', 'W1'], outputs: ['h'], name: 'mm1' },
          { op: 'Relu', inputs: ['h'], outputs: ['r2'] },
          { op: 'MatMul', inputs: ['r2', 'W2'], outputs: ['y'], name: 'mm2' },
        ],
      }),
    );
    // Fifteen of sixteen rows zero (padding-like): both layers' A have whole zero rows (effective density 1/16 for
    // pit-m), so pit-m wins far beyond the timer's noise, yet well inside what its density explains (≤ 20x).
    const x = randomFloats(256 * 128, 9);
    for (let r = 0; r < 256; r++) if (r % 16) x.fill(0, r * 128, r * 128 + 128);
    writeFileSync(inputPath, npyBytes('<f4', [256, 128], new Uint8Array(x.buffer)));

    db = openDatabase(dbPath);
    const tdb = openTileDb(db, { adapter: g.ctx.adapter, kernelHash: kernelSourcesHash(), tunerVersion: TUNER_VERSION });
    for (const p of syntheticPoints()) recordTilePoint(db, tdb, pointKey(p), p);
    ({ runId } = await profileModel(
      { modelPath, inputs: [inputPath], imageSize: 64, families: ['dense', 'pit-k', 'pit-m'], repeat: 3, warmup: 0, warmupMs: 0 },
      { gpu: g.ctx, cache: g.cache, sink: dbSink(db), tileDb: lookupTileDb(db, g.ctx.adapter) },
    ));
    out = join(dir, 'set');
    expect(await exportCommand.run([String(runId), '--out', out, '--db', dbPath])).toBe(0);
  });
  afterAll(() => {
    db?.close();
    g.ctx.destroy();
  });

  it('writes a manifest that validates against its schema, with every layer, kernel and fixture', () => {
    const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as KernelSetManifest;
    expect(manifestErrors(m)).toEqual([]);
    expect(JSON.parse(readFileSync(join(out, 'manifest.schema.json'), 'utf8')).title).toMatch(/kernel set manifest/);
    expect(m.format).toBe('pit-studio.kernel-set');
    expect(m.model.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(m.run).toMatchObject({ id: runId, policy: 'tiledb', inputs: 1 });
    expect(m.layers.map((l) => [l.name, l.shape])).toEqual([
      ['mm1', { m: 256, n: 128, k: 128 }],
      ['mm2', { m: 256, n: 64, k: 128 }],
    ]);
    const report = getRunReport(db, runId);
    for (const l of m.layers) {
      const r = report.layers.find((x) => x.name === l.name)!;
      expect(l.plan.variant).toBe(r.chosen);
      expect(l.plan.steps.length).toBeGreaterThan(0);
      for (const s of l.plan.steps) expect(m.kernels.some((k) => k.id === s.kernel)).toBe(true);
      if (l.plan.rule.family === 'dense') {
        expect(l.dense).toBeNull();
        expect(l.densityThreshold).toBeNull();
      } else {
        expect(l.plan.detection).toMatch(/^detect-/);
        expect(l.dense!.rule.family).toBe('dense');
        expect(l.densityThreshold!.source).toBe('tiledb');
        expect(l.densityThreshold!.value).toBeGreaterThan(0);
      }
    }
    expect(m.layers.some((l) => l.plan.rule.family === 'pit-m')).toBe(true); // the zero rows were worth it
    // One WGSL file per distinct kernel, its sha256 in the manifest.
    const files = readdirSync(join(out, 'kernels')).sort();
    expect(files).toEqual(m.kernels.map((k) => k.file.slice('kernels/'.length)).sort());
    expect(new Set(m.kernels.map((k) => k.sha256)).size).toBe(m.kernels.length);
    // Every kernel is verified by some fixture.
    const verified = new Set(m.fixtures.flatMap((f) => f.kernels));
    for (const k of m.kernels) expect(verified.has(k.id), k.id).toBe(true);
  });

  it('rejects manifests that break the schema', () => {
    const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as KernelSetManifest;
    expect(manifestErrors({ ...m, formatVersion: 2 })).toEqual(['/formatVersion: must be equal to constant']);
    const { adapter: _, ...noAdapter } = m;
    expect(manifestErrors(noAdapter)[0]).toMatch(/must have required property 'adapter'/);
    const bad = structuredClone(m);
    bad.layers[0]!.plan.steps[0]!.workgroups = [1, 1] as never;
    expect(manifestErrors(bad).join()).toMatch(/\/layers\/0\/plan\/steps\/0\/workgroups/);
    const badKernel = structuredClone(m);
    badKernel.kernels[0]!.role = 'no-such-role' as never;
    expect(manifestErrors(badKernel).join()).toMatch(/\/kernels\/0\/role: must be equal to one of the allowed values/);
  });

  it('verify.mjs passes copied alone beside webgpu, and fails (exit 1) a wrong kernel whose hash was updated too', () => {
    const alone = isolate(out);
    const ok = verify(alone);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/all passed/);
    const m = JSON.parse(readFileSync(join(alone, 'manifest.json'), 'utf8')) as KernelSetManifest;
    // Tamper with a main kernel: scale one product term (a silent numeric bug, not a compile error), and make the
    // manifest agree, so only the numeric check on the GPU can catch it.
    const main = m.kernels.find((k) => k.role === 'pit-m') ?? m.kernels.find((k) => k.role === 'dense')!;
    const path = join(alone, main.file);
    const text = readFileSync(path, 'utf8');
    const tampered = text.replace(/fma\(([^,]+), ([^,]+), /, 'fma($1, $2 * 1.01, ');
    expect(tampered).not.toBe(text);
    writeFileSync(path, tampered);
    main.sha256 = createHash('sha256').update(tampered).digest('hex');
    writeFileSync(join(alone, 'manifest.json'), JSON.stringify(m));
    const bad = verify(alone);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`FAIL ${main.id} (${main.file}`);
    expect(bad.stderr).toMatch(/exceeds|tolerance/);
    expect(bad.stderr).toMatch(new RegExp(`verify: FAILED — 1 kernel\\(s\\): ${main.id}`));
  });

  it('verify.mjs refuses a set that is not as exported with exit 2 and one line per problem, before any GPU work', () => {
    const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as KernelSetManifest;
    const main = m.kernels.find((k) => k.role === 'pit-m') ?? m.kernels.find((k) => k.role === 'dense')!;
    const refused = (tamper: (set: string) => void) => {
      const alone = isolate(out);
      tamper(alone);
      const r = verify(alone);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stdout).not.toMatch(/^ok /m); // nothing ran
      expect(r.stderr).not.toMatch(/^\s+at /m); // no stack trace
      expect(r.stderr).toMatch(/verify: the set is not as exported \(1 problem\(s\)\): nothing was run; re-export it\n$/);
      return r.stderr.split('\n')[0]!;
    };
    // 1. A kernel edited after export (the manifest untouched): its hash differs.
    const edited = refused((set) => {
      const path = join(set, main.file);
      writeFileSync(path, readFileSync(path, 'utf8').replace(/fma\(([^,]+), ([^,]+), /, 'fma($1, $2 * 2.0, '));
    });
    expect(edited).toMatch(new RegExp(`^NOT AS EXPORTED: ${main.file} \\(${main.id}\\) was modified since export: sha256 [0-9a-f]{12}…, manifest ${main.sha256.slice(0, 12)}…$`));
    // 2. A tolerance loosened to 1e30 (with which a kernel scaled ×2 would pass the numeric check).
    const fx = m.fixtures[0]!;
    const loose = refused((set) => {
      const mm = JSON.parse(readFileSync(join(set, 'manifest.json'), 'utf8')) as KernelSetManifest;
      mm.fixtures[0]!.tolerance = 1e30;
      writeFileSync(join(set, 'manifest.json'), JSON.stringify(mm));
    });
    expect(loose).toMatch(new RegExp(`^NOT AS EXPORTED: fixture ${fx.id}: tolerance 1e\\+30 is outside the range derived from its data \\[\\S+, \\S+\\]$`));
    // 3. A truncated fixture file.
    const file = Object.values(fx.expected)[0]!;
    const truncated = refused((set) => {
      const bytes = readFileSync(join(set, file));
      writeFileSync(join(set, file), bytes.subarray(0, bytes.length - 10));
    });
    expect(truncated).toMatch(new RegExp(`^NOT AS EXPORTED: fixture ${fx.id}: truncated \\.npy: shape \\([\\d, ]+\\) needs \\d+ data bytes, the file has \\d+$`));
    // 4. A malformed manifest.
    const alone = isolate(out);
    writeFileSync(join(alone, 'manifest.json'), '{"kernels": 3}');
    const r = verify(alone);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('verify: manifest.json is not a kernel set manifest (no kernels or fixtures list)');
  });

  it('pit export writes the set atomically: no partial folder is left beside it', () => {
    expect(readdirSync(dir).filter((n) => n.includes('.partial-'))).toEqual([]);
    expect(readdirSync(out).sort()).toEqual(['fixtures', 'kernels', 'manifest.json', 'manifest.schema.json', 'pit-kernels.mjs', 'verify.mjs']);
  });

  it('pit-kernels.mjs runs a layer on a GPUDevice from the manifest alone: sparse below the threshold, dense above', async () => {
    type Plan = KernelSetManifest['layers'][number]['plan'];
    const mod = (await import(pathToFileURL(join(out, 'pit-kernels.mjs')).href)) as {
      loadKernelSet(device: GPUDevice, manifest: KernelSetManifest, read: (p: string) => Promise<string>): Promise<{
        layer(name: string): KernelSetManifest['layers'][number];
        choose(layer: KernelSetManifest['layers'][number], density: number): Plan;
        run(plan: Plan, data: Record<string, Float32Array>): Promise<Record<string, Float32Array | Uint32Array>>;
      }>;
    };
    const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as KernelSetManifest;
    const set = await mod.loadKernelSet(g.ctx.device, m, async (p) => readFileSync(join(out, p), 'utf8'));
    // A layer whose chosen plan is sparse (the run's timer chooses which; the test above asserts one is pit-m).
    const sparseLayer = m.layers.find((l) => l.plan.rule.family !== 'dense');
    expect(sparseLayer, 'no layer chose a sparse plan').toBeDefined();
    const layer = set.layer(sparseLayer!.name);
    const { m: rows, n, k } = layer.shape;
    const threshold = layer.densityThreshold!.value;
    const a = structuredOperand(rows, k, '1xK', 0.75, 5); // whole zero rows, as the run saw
    const b = structuredOperand(k, n, null, 0, 6);
    const ref = referenceMatmul(a, b, rows, n, k);
    const tol = { k, scale: matmulErrorScale(a, b, rows, n, k) };
    const sparse = set.choose(layer, threshold / 2);
    const dense = set.choose(layer, Math.min(1, threshold + 0.01));
    expect(sparse.rule.family).toBe(layer.plan.rule.family);
    expect(dense.rule.family).toBe('dense');
    for (const plan of [sparse, dense]) {
      const res = await set.run(plan, { a, b });
      const cmp = compareOutputs(res.c as Float32Array, ref, tol);
      expect(cmp.ok, `${plan.variant}: ${cmp.maxAbsErr} > ${cmp.tolerance}`).toBe(true);
    }
  });

  it('refuses an incomplete run and says which layers are missing', async () => {
    const report = getRunReport(db, runId);
    const partial = createRun(db, {
      model: report.run.model,
      adapter: report.run.adapter,
      inputs: report.run.inputs,
      families: ['dense'],
      repeat: 1,
      options: {},
    });
    const first = report.layers[0]!;
    recordLayer(db, partial, { ...first, variants: first.variants.filter((v) => v.name === 'dense'), chosen: 'dense', predicted: undefined }, []);
    failRun(db, partial, 'cancelled');
    await expect(exportCommand.run([String(partial), '--out', join(dir, 'partial'), '--db', dbPath])).rejects.toThrow(
      /run \d+ is incomplete \(cancelled\): 1 layer record\(s\) missing — input 0 \(.*x\.npy\): 1 missing: mm2/,
    );
  });

  it('exports the bcsr family (dynamic, detected online) with its 32x32 detection fixtures; verify.mjs passes', async () => {
    const { runId: rid } = await profileModel(
      { modelPath, inputs: [inputPath], imageSize: 64, families: ['dense', 'bcsr'], repeat: 1, warmup: 0, warmupMs: 0, policy: 'measure' },
      { gpu: g.ctx, cache: g.cache, sink: dbSink(db) },
    );
    const report = getRunReport(db, rid);
    for (const l of report.layers) expect(l.variants.find((v) => v.name === 'bcsr')!.ok).toBe(true);
    // Whatever the timer chose, export the bcsr plan (a user's run where it won would look like this).
    const edited = { ...report, layers: report.layers.map((l) => ({ ...l, chosen: 'bcsr' })) };
    const kernelsOf = (input: number, layer: number, variant: string) =>
      (getLayerKernels(db, rid, input, layer)[variant] ?? []).map((k) => ({ hash: k.hash, label: k.label, wgsl: getKernelWgsl(db, k.hash) ?? '' }));
    const set = buildKernelSet({ report: edited, kernelsOf, tileModel: null, tileDb: null, generator: 'test', createdAt: new Date().toISOString() });
    expect(manifestErrors(set.manifest)).toEqual([]);
    for (const l of set.manifest.layers) {
      expect(l.plan.rule).toMatchObject({ family: 'bcsr', axis: 'k', microTile: '32x32' });
      expect(set.manifest.kernels.find((k) => k.id === l.plan.detection)!.label).toBe('detect-k 32x32');
    }
    const fx = set.manifest.fixtures.find((f) => f.plan.rule.family === 'bcsr')!;
    expect(Object.keys(fx.expected).sort()).toEqual(['c', 'count', 'index']);
    const folder = join(dir, 'bcsr-set');
    mkdirSync(folder);
    for (const [path, data] of set.files) {
      mkdirSync(join(folder, path, '..'), { recursive: true });
      writeFileSync(join(folder, path), data);
    }
    writeFileSync(join(folder, 'manifest.json'), JSON.stringify(set.manifest, null, 2));
    writeFileSync(join(folder, 'pit-kernels.mjs'), LOADER_SOURCE);
    writeFileSync(join(folder, 'verify.mjs'), VERIFY_SOURCE);
    const r = verify(isolate(folder));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/all passed/);
  });

  it('exports a split-K dense tile (partial sums, then a reduction writing C); verify.mjs checks C after the reduction', () => {
    const report = getRunReport(db, runId);
    // mm2 (256x64x128: 8 output tiles of 32x128, K long enough) gets a split-K dense candidate; whatever the timer
    // chose, export it.
    const split = (l: (typeof report.layers)[number]) => l.variants.find((v) => v.ok && /\/k\d+/.test(v.computeTile ?? ''));
    expect(report.layers.filter((l) => split(l)).map((l) => l.name)).toContain('mm2');
    const edited = { ...report, layers: report.layers.map((l) => ({ ...l, chosen: split(l)?.name ?? l.chosen })) };
    const kernelsOf = (input: number, layer: number, variant: string) =>
      (getLayerKernels(db, runId, input, layer)[variant] ?? []).map((k) => ({ hash: k.hash, label: k.label, wgsl: getKernelWgsl(db, k.hash) ?? '' }));
    const set = buildKernelSet({ report: edited, kernelsOf, tileModel: null, tileDb: null, generator: 'test', createdAt: new Date().toISOString() });
    expect(manifestErrors(set.manifest)).toEqual([]);
    const mm2 = set.manifest.layers.find((l) => l.name === 'mm2')!;
    expect(mm2.plan.steps.map((st) => set.manifest.kernels.find((k) => k.id === st.kernel)!.role)).toEqual(['dense', 'splitk-reduce']);
    const folder = join(dir, 'splitk-set');
    mkdirSync(folder);
    for (const [path, data] of set.files) {
      mkdirSync(join(folder, path, '..'), { recursive: true });
      writeFileSync(join(folder, path), data);
    }
    writeFileSync(join(folder, 'manifest.json'), JSON.stringify(set.manifest, null, 2));
    writeFileSync(join(folder, 'pit-kernels.mjs'), LOADER_SOURCE);
    writeFileSync(join(folder, 'verify.mjs'), VERIFY_SOURCE);
    const r = verify(isolate(folder));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/all passed/);
  });

  it('refuses a layer whose chosen variant is a static weight-pattern family, naming the layer and what to do', () => {
    const report = getRunReport(db, runId);
    const l = report.layers[0]!;
    const dense = l.variants.find((v) => v.name === l.baseline)!;
    // As a pruned model's run records it: the 2:4 family chosen on this layer, verified, with its index time apart.
    const nm = { ...dense, name: 'nm', family: 'nm', microTile: null, computeTile: '128x64x16/8x4', ms: dense.ms / 2, indexMs: 3, effectiveDensity: 0.5 };
    const edited = { ...report, layers: [{ ...l, variants: [...l.variants, nm], chosen: 'nm' }, ...report.layers.slice(1)] };
    const src = { report: edited, kernelsOf: () => [], tileModel: null, tileDb: null, generator: 'test', createdAt: new Date().toISOString() };
    expect(() => buildKernelSet(src)).toThrow(
      new RegExp(`^layer ${l.name} \\(input 0\\): its chosen variant nm runs on an index built from the layer's weight \\(static nm pattern\\), which kernel set format v1 cannot carry; re-profile with --variants leaving out nm`),
    );
  });

  it('lists a batched layer (attention per head, grouped conv) as not exported, with the reason', () => {
    const report = getRunReport(db, runId);
    const batched = { ...report.layers[1]!, batch: 8, batchDims: [1, 8], batchKind: 'broadcast' as const };
    const only = (layers: typeof report.layers) => ({ ...report, layers });
    const src = (r: typeof report) => ({
      report: r,
      kernelsOf: () => {
        throw new Error('a batched layer is not looked up');
      },
      tileModel: null,
      tileDb: null,
      generator: 'test',
      createdAt: new Date().toISOString(),
    });
    expect(() => buildKernelSet(src(only([batched])))).toThrow(/has no profiled 2-D layer to export/);
    const manifest = buildKernelSet({ ...src(only([report.layers[0]!, batched])), kernelsOf: (i, l, v) => getLayerKernels(db, runId, i, l)[v]!.map((k) => ({ ...k, wgsl: getKernelWgsl(db, k.hash)! })) }).manifest;
    expect(manifest.layers.map((l) => l.name)).toEqual([report.layers[0]!.name]);
    expect(manifest.skipped).toEqual([{ name: batched.name, reason: 'batched layer (batch 8): kernel sets export 2-D layers only' }]);
  });

  it('refuses a run whose kernels the current sources no longer generate', () => {
    const report = getRunReport(db, runId);
    expect(() =>
      buildKernelSet({
        report,
        kernelsOf: (_i, _l, variant) => [{ hash: 'a'.repeat(64), label: `${variant} (old)`, wgsl: '// old' }],
        tileModel: null,
        tileDb: null,
        generator: 'test',
        createdAt: new Date().toISOString(),
      }),
    ).toThrow(/the kernel sources changed since run \d+ .*re-profile, then export/);
  });
});
