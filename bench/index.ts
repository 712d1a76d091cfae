/**
 * `npm run bench` / the GPU machine's bench entry (bundled to out/bench/index.mjs by bench/build.mjs): runs the suite
 * (bench/suite.ts) on the local WebGPU adapter, merges the peers' JSON (bench/peers.py) when given, evaluates the
 * issue-5 targets and writes the JSON report and its Markdown summary.
 *
 * Usage: node out/bench/index.mjs [--quick] [--sweep] [--only sweep,ragged,dense,sparse,detect,layers,static,floor] [--json FILE]
 *   [--md FILE] [--peers FILE] [--layers FILE] [--no-layers] [--max-layers N] [--repeat N] [--warmup N]
 *   [--warmup-ms MS] [--robustness-off] [--autotune | --no-autotune] [--dtypes f32,f16] [--dense-sizes 1024,4096]
 *   [--sparsities 0,0.9] [--granularities 32x1,1x64] [--autotune-dtypes f16] [--f32-tiles h200] [--layer-warmup-ms MS]
 * Every section runs in each of --dtypes (default f32 and f16: f16 operands with f32 accumulation, the f16 families;
 * issue 11) on an adapter with shader-f16.
 * Default is the full issue-5 suite (4096³ sparse, 1024–8192³ dense: meant for a real GPU); `--quick` runs tiny
 * sizes that finish on lavapipe. Exit code 1 when a figure failed verification or a section errored.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { acquireDevice, describeCapabilities } from '../core/gpu/device.ts';
import { DEFAULT_DAWN_FLAGS, nodeGpu } from '../core/gpu/node-gpu.ts';
import { PipelineCache } from '../core/gpu/pipeline-cache.ts';
import { evaluateTargets, evaluateTargets11, renderMarkdown, type BenchReport, type PeersResult } from './report.ts';
import { H200_F32_TILES, runSuite, type BenchConfig, type Dtype } from './suite.ts';
import type { LayerFile } from './layers.ts';

declare const __PIT_COMMIT__: string | undefined;

/** The full issue-5 configuration (a real GPU: about 3 minutes on an H200). */
export function fullConfig(layers: LayerFile | null): BenchConfig {
  return {
    denseSizes: [1024, 2048, 4096, 8192],
    sparseSize: 4096,
    sparsities: [0, 0.5, 0.9, 0.95, 0.99],
    granularities: ['32x1', '1x64', '32x64'],
    detectSize: 4096,
    detectSparsities: [0.5, 0.9, 0.95, 0.99],
    detectTiles: ['1x1', '32x1', '1x64', '32x32'],
    staticSize: 4096,
    staticSparsities: [0.5, 0.75, 0.875, 0.9375],
    staticVector: 64,
    layers,
    warmup: 2,
    repeat: 10,
    warmupMs: 300,
    sweep: false,
    autotune: true,
    verify: { rows: 2, cols: 1, elements: 256 },
    dtypes: ['f32', 'f16'],
    raggedShapes: [
      [1000, 1000, 1000],
      [999, 1001, 1003],
      [4095, 200, 600],
    ],
  };
}

/** Tiny sizes for any adapter (lavapipe: well under a minute): the same code paths, small shapes. */
export function quickConfig(layers: LayerFile | null): BenchConfig {
  const small = layers ? { ...layers, layers: layers.layers.filter((l) => l.m * l.n * l.k <= 300_000).slice(0, 4) } : null;
  return {
    denseSizes: [64, 128],
    sparseSize: 128,
    sparsities: [0, 0.9],
    granularities: ['32x1', '1x64'],
    detectSize: 256,
    detectSparsities: [0.5, 0.9],
    detectTiles: ['1x1', '32x1', '1x64', '32x32'],
    staticSize: 128,
    staticSparsities: [0.5, 0.75, 0.875, 0.9375],
    staticVector: 64,
    layers: small,
    warmup: 0,
    repeat: 2,
    warmupMs: 0,
    sweep: false,
    autotune: false,
    verify: { rows: 2, cols: 2, elements: 64 },
    dtypes: ['f32', 'f16'],
    raggedShapes: [[37, 29, 53]],
  };
}

function commit(): string {
  if (typeof __PIT_COMMIT__ === 'string' && __PIT_COMMIT__) return __PIT_COMMIT__;
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return head + (dirty ? '+dirty' : '');
  } catch {
    return 'unknown';
  }
}

function argValue(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

/**
 * Runs the bench with command-line `argv`; returns the report (also written to --json / --md when given).
 * @throws NoAdapterError without a WebGPU adapter; Error on unreadable --peers / --layers files.
 */
export async function main(argv: string[]): Promise<BenchReport> {
  const quick = argv.includes('--quick');
  const layersPath = argValue(argv, '--layers') ?? 'bench/data/ocr-det-layers.json';
  const layers = argv.includes('--no-layers') || !existsSync(layersPath) ? null : (JSON.parse(readFileSync(layersPath, 'utf8')) as LayerFile);
  const cfg = quick ? quickConfig(layers) : fullConfig(layers);
  cfg.sweep = argv.includes('--sweep') || (argValue(argv, '--only')?.split(',').includes('sweep') ?? false);
  if (argv.includes('--autotune')) cfg.autotune = true;
  if (argv.includes('--no-autotune')) cfg.autotune = false;
  const only = argValue(argv, '--only');
  if (only) cfg.only = only.split(',');
  const warmupMs = argValue(argv, '--warmup-ms');
  if (warmupMs !== undefined) cfg.warmupMs = Number(warmupMs);
  const maxLayers = argValue(argv, '--max-layers');
  if (maxLayers !== undefined) cfg.maxLayers = Number(maxLayers);
  const repeat = argValue(argv, '--repeat');
  if (repeat !== undefined) cfg.repeat = Number(repeat);
  const warmup = argValue(argv, '--warmup');
  if (warmup !== undefined) cfg.warmup = Number(warmup);
  const tuneDtypes = argValue(argv, '--autotune-dtypes');
  if (tuneDtypes !== undefined) cfg.autotuneDtypes = tuneDtypes.split(',').filter((d): d is Dtype => d === 'f32' || d === 'f16');
  if (argValue(argv, '--f32-tiles') === 'h200') cfg.f32Tiles = H200_F32_TILES;
  const layerWarmup = argValue(argv, '--layer-warmup-ms');
  if (layerWarmup !== undefined) cfg.layerWarmupMs = Number(layerWarmup);
  const dtypes = argValue(argv, '--dtypes');
  if (dtypes !== undefined) cfg.dtypes = dtypes.split(',').filter((d): d is Dtype => d === 'f32' || d === 'f16');
  const list = (name: string): number[] | undefined => argValue(argv, name)?.split(',').map(Number);
  cfg.denseSizes = list('--dense-sizes') ?? cfg.denseSizes;
  cfg.sparsities = list('--sparsities') ?? cfg.sparsities;
  const grans = argValue(argv, '--granularities');
  if (grans) cfg.granularities = grans.split(',');
  const peersPath = argValue(argv, '--peers');
  const peers = peersPath && existsSync(peersPath) ? (JSON.parse(readFileSync(peersPath, 'utf8')) as PeersResult) : null;

  // --robustness-off: Dawn's bounds clamping of every buffer/array access disabled (an unsafe toggle, for
  // measuring what it costs; every kernel here bounds-checks its own accesses). Reported in the metadata.
  // One enable-dawn-features entry (Dawn reads one list): the default toggles plus disable_robustness.
  const flags = argv.includes('--robustness-off')
    ? DEFAULT_DAWN_FLAGS.map((f) => (f.startsWith('enable-dawn-features=') ? `${f},disable_robustness` : f))
    : DEFAULT_DAWN_FLAGS;
  const ctx = await acquireDevice(nodeGpu(flags));
  const lim = ctx.device.limits;
  const cache = new PipelineCache(ctx.device);
  const t0 = performance.now();
  try {
    const log = (line: string): void => void process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1)}s] ${line}\n`);
    log(`adapter: ${ctx.adapter.vendor} / ${ctx.adapter.architecture} / ${ctx.adapter.device} / ${ctx.adapter.description}; ${describeCapabilities(ctx.adapter)}`);
    const meta = (): Record<string, unknown> => ({
      adapter: ctx.adapter.device || ctx.adapter.description || ctx.adapter.vendor,
      adapterDescription: `${ctx.adapter.vendor} / ${ctx.adapter.architecture} / ${ctx.adapter.device} / ${ctx.adapter.description} (${ctx.adapter.backend || 'backend n/a'})`,
      driver: peers?.meta.nvidiaSmi ?? ctx.adapter.description,
      date: new Date().toISOString(),
      commit: commit(),
      node: process.version,
      dawnFlags: flags,
      limits: {
        maxComputeWorkgroupStorageSize: lim.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: lim.maxComputeInvocationsPerWorkgroup,
        maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
      },
      timestampQuery: ctx.timestampQuery,
      subgroups: ctx.subgroups,
      shaderF16: ctx.shaderF16,
      subgroupMatrixConfigs: ctx.subgroupMatrixConfigs,
      subgroupSizes: ctx.adapter.subgroupSizes ?? null,
      capabilities: describeCapabilities(ctx.adapter),
      layersFile: layers ? { model: layers.model, input: layers.input, note: 'real micro-tile masks from a CPU capture; values synthetic' } : null,
      peersFile: peersPath ?? null,
    });
    const jsonPath = argValue(argv, '--json');
    const mdPath = argValue(argv, '--md') ?? (jsonPath ? jsonPath.replace(/\.json$/, '') + '.md' : undefined);
    const reportOf = (suite: BenchReport['suite'], partial: string | null): BenchReport => ({
      meta: { ...meta(), wallS: (performance.now() - t0) / 1000, ...(partial ? { partial: `cut short: written after section '${partial}'` } : {}) },
      config: { ...cfg, layers: cfg.layers ? `${cfg.layers.layers.length} layers` : null },
      suite,
      peers,
      targets: evaluateTargets(suite, peers, quick ? cfg.sparseSize : 4096),
      targets11: evaluateTargets11(suite, peers, quick ? cfg.sparseSize : 4096, layers?.model),
    });
    const write = (report: BenchReport): void => {
      if (jsonPath) writeFileSync(jsonPath, JSON.stringify(report, null, 1));
      if (mdPath) writeFileSync(mdPath, renderMarkdown(report));
    };
    // Written after every section too, so a run cut by its time limit keeps what it measured.
    const suite = await runSuite(ctx, cache, cfg, log, (partial, section) => write(reportOf(partial, section)));
    const report = reportOf(suite, null);
    write(report);
    const md = renderMarkdown(report);
    process.stdout.write(md.split('## (b)')[0] + '\n');
    return report;
  } finally {
    ctx.destroy();
  }
}

const isEntry = process.argv[1] && /(?:bench[\\/]index\.(?:ts|mjs))$/.test(process.argv[1]);
if (isEntry) {
  main(process.argv.slice(2)).then(
    (r) => {
      const bad =
        r.suite.errors.length > 0 ||
        r.suite.dense.some((f) => !f.check.ok) ||
        r.suite.sparse.some((f) => !f.check.ok) ||
        (r.suite.static ?? []).some((f) => !f.check.ok) ||
        r.suite.detection.some((f) => !f.indexOk) ||
        (r.suite.ragged ?? []).some((f) => !f.check.ok);
      process.exitCode = bad ? 1 : 0;
    },
    (e) => {
      process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
      process.exitCode = 2;
    },
  );
}
