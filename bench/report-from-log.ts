/**
 * Rebuilds a bench report from a run's log (`bench.log`, the suite's one line per figure on stderr) and the peers'
 * JSON, for a run cut by its time limit before the suite wrote its JSON (run 10 on the H200: the bench had no partial
 * writes yet). The log holds each figure's median, verdict and tile, not its samples: the report's spread fields
 * repeat the median, and `meta.note` says so. Everything else (targets, tables) is computed as for a complete run.
 *
 * Usage: npx tsx bench/report-from-log.ts LOG PEERS.json LAYERS.json OUT.json "note" COMMIT
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { LayerFile } from './layers.ts';
import { evaluateTargets, evaluateTargets11, renderMarkdown, type BenchReport, type PeersResult } from './report.ts';
import type { DenseFigure, DetectFigure, Dtype, LayerFigure, RaggedFigure, SparseFigure, SuiteResult, SweepFigure, TimingFigure, VariantFigure } from './suite.ts';

const num = String.raw`([\d.e+-]+|NaN)`;
const t = (ms: number): TimingFigure => ({ medianMs: ms, minMs: ms, maxMs: ms, repeat: 0, samplesMs: [] });
const check = (ok: boolean, maxAbsErr = NaN, tolerance = NaN) => ({ compared: 0, nonFinite: 0, maxAbsErr, tolerance, ok });

/** The suite result and adapter line a log describes. Lines it does not know are ignored. */
export function suiteFromLog(log: string, layerFile: LayerFile | null): { suite: SuiteResult; adapterLine: string; wallS: number } {
  const suite: SuiteResult = { sweep: [], tuned: null, tunedF16: null, ragged: [], dense: [], sparse: [], detection: [], layers: [], errors: [], notes: [] };
  let adapterLine = '';
  let wallS = 0;
  const tiles: Record<Dtype, string> = { f32: '', f16: '' };
  const f16Candidates: SweepFigure[] = [];
  const fig = (dtype: Dtype, variant: string, microTile: string | null, tile: string, kernelMs: number, detectMs: number | null, ok: boolean, m: number, n: number, k: number): VariantFigure => ({
    dtype,
    variant,
    microTile,
    tile,
    label: `${variant} tile ${tile}`,
    kernel: t(kernelMs),
    detect: detectMs === null ? null : t(detectMs),
    totalMs: kernelMs + (detectMs ?? 0),
    tflops: (2 * m * n * k) / kernelMs / 1e9,
    gpuDensity: null,
    check: check(ok),
    timing: 'timestamp',
  });
  for (const raw of log.split('\n')) {
    const at = /^\[([\d.]+)s\] (.*)$/.exec(raw);
    if (!at) continue;
    wallS = Number(at[1]);
    const line = at[2]!;
    let m: RegExpExecArray | null;
    if (line.startsWith('adapter: ')) adapterLine = line.slice('adapter: '.length);
    else if ((m = new RegExp(String.raw`^tune f16 (\S+) (\S+) (.+): ${num} ms \+ ${num} \(${num} TFLOP/s\) (ok|WRONG)`).exec(line))) {
      f16Candidates.push({ family: m[1]!, tile: m[2]!, data: m[3]!, kernelMs: Number(m[4]), detectMs: Number(m[5]), tflops: Number(m[6]), ok: m[7] === 'ok' });
    } else if ((m = /^tune f16: dense-f16 (\S+), pit-k-f16 (\S+) \(>= 0\.7\) \/ (\S+) \(< 0\.7\), pit-m-f16 1x64 (\S+)$/.exec(line))) {
      suite.tunedF16 = { dense: m[1]!, pitK: m[2]!, pitKLow: m[3]!, pitM64: m[4]!, candidates: f16Candidates };
    } else if ((m = new RegExp(String.raw`^ragged (f32|f16) (\S+) (\S+) (\d+)x(\d+)x(\d+): (ok|WRONG)(?: \(max err ${num}, tolerance ${num})?`).exec(line))) {
      const r: RaggedFigure = { dtype: m[1] as Dtype, variant: m[2]!, tile: m[3]!, m: +m[4]!, n: +m[5]!, k: +m[6]!, sparsity: m[2]!.startsWith('dense') ? 0 : 0.7, check: check(m[7] === 'ok', Number(m[8] ?? NaN), Number(m[9] ?? NaN)) };
      suite.ragged!.push(r);
      if (r.variant.startsWith('dense') && !tiles[r.dtype]) tiles[r.dtype] = r.tile;
    } else if ((m = new RegExp(String.raw`^dense (f32|f16) (\d+)\^3: ${num} ms ${num} TFLOP/s (ok|WRONG)`).exec(line))) {
      const s = +m[2]!;
      const d = m[1] as Dtype;
      const f: DenseFigure = { ...fig(d, d === 'f16' ? 'dense-f16' : 'dense', null, tiles[d], Number(m[3]), null, m[5] === 'ok', s, s, s), m: s, n: s, k: s };
      suite.dense.push(f);
    } else if ((m = new RegExp(String.raw`^sparse (f32|f16): dense ${num} ms$`).exec(line))) {
      const d = m[1] as Dtype;
      const f: SparseFigure = { ...fig(d, d === 'f16' ? 'dense-f16' : 'dense', null, tiles[d], Number(m[2]), null, true, 4096, 4096, 4096), granularity: 'any', sparsity: 0, density: 1 };
      suite.sparse.push(f);
    } else if ((m = new RegExp(String.raw`^sparse (f32|f16) (\S+) s=${num} (\S+) (\S+) (\S+): ${num} ms \+ detect ${num} ms \(gpu density ${num}\) (ok|WRONG)`).exec(line))) {
      const d = m[1] as Dtype;
      const sp = Number(m[3]);
      const f: SparseFigure = { ...fig(d, m[4]!, m[5]!, m[6]!, Number(m[7]), Number(m[8]), m[10] === 'ok', 4096, 4096, 4096), granularity: m[2]!, sparsity: sp, density: 1 - sp, gpuDensity: Number(m[9]) };
      suite.sparse.push(f);
    } else if ((m = new RegExp(String.raw`^detect (f32|f16) (\S+) \((.+)\) s=${num}: ${num} ms (ok|WRONG INDEX)`).exec(line))) {
      const sp = Number(m[4]);
      const f: DetectFigure = { dtype: m[1] as Dtype, microTile: m[2]!, program: m[3]!, sparsity: sp, density: 1 - sp, rows: 4096, cols: 4096, detect: t(Number(m[5])), indexOk: m[6] === 'ok' };
      suite.detection.push(f);
    } else if ((m = new RegExp(String.raw`^layer (f32|f16) (\S+) (\d+)x(\d+)x(\d+): dense ${num} ms \(([^)]*)\), chosen (.+?) ${num} ms(?:, ideal ${num} ms)?(?:, \d+ suspect)?$`).exec(line))) {
      const L = layerFile?.layers.find((x) => x.name === m![2]);
      const f: LayerFigure = {
        dtype: m[1] as Dtype,
        denseTile: m[7]!,
        name: m[2]!,
        m: +m[3]!,
        n: +m[4]!,
        k: +m[5]!,
        sparsity: L?.sparsity ?? NaN,
        density32x1: L?.density32x1 ?? NaN,
        densityRows: L?.densityRows ?? NaN,
        variants: [],
        chosen: m[8]!,
        denseMs: Number(m[6]),
        chosenMs: Number(m[9]),
        ...(m[10] !== undefined ? { idealMs: Number(m[10]) } : {}),
      };
      suite.layers.push(f);
    } else if (line.startsWith('ERROR ')) suite.errors.push(line.slice(6));
  }
  return { suite, adapterLine, wallS };
}

const isEntry = process.argv[1] && /report-from-log\.ts$/.test(process.argv[1]);
if (isEntry) {
  const [logPath, peersPath, layersPath, outPath, note, commit] = process.argv.slice(2);
  if (!logPath || !peersPath || !outPath) throw new Error('usage: report-from-log.ts LOG PEERS.json LAYERS.json OUT.json "note"');
  const layerFile = layersPath ? (JSON.parse(readFileSync(layersPath, 'utf8')) as LayerFile) : null;
  const peers = JSON.parse(readFileSync(peersPath, 'utf8')) as PeersResult;
  const { suite, adapterLine, wallS } = suiteFromLog(readFileSync(logPath, 'utf8'), layerFile);
  const report: BenchReport = {
    meta: {
      adapter: 'nvidia-h200',
      adapterDescription: adapterLine.split(';')[0],
      capabilities: adapterLine.split('; ').slice(1).join('; '),
      driver: peers.meta.nvidiaSmi,
      date: peers.meta.date,
      commit: commit ?? 'unknown',
      node: 'v20.20.2 (the GPU machine)',
      note: note ?? '',
      wallS,
      fromLog: logPath,
    },
    config: {},
    suite,
    peers,
    targets: evaluateTargets(suite, peers, 4096),
    targets11: evaluateTargets11(suite, peers, 4096),
  };
  writeFileSync(outPath, JSON.stringify(report, null, 1));
  writeFileSync(outPath.replace(/\.json$/, '.md'), renderMarkdown(report));
  process.stderr.write(`wrote ${outPath} and its .md: ${suite.dense.length} dense, ${suite.sparse.length} sparse, ${suite.detection.length} detection, ${suite.layers.length} layer figures\n`);
}
