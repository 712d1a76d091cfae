/**
 * Turns the suite's figures and the peers' (bench/peers.py) into the bench report: the issue-5 targets evaluated as
 * met / not met with the measured figure, and a Markdown summary. Pure functions (no GPU), tested at tiny sizes.
 */
import type { DenseFigure, SparseFigure, SuiteResult } from './suite.ts';

/** A timed peer figure (ms). */
export interface PeerTiming {
  medianMs: number;
  minMs: number;
  maxMs: number;
  repeat: number;
  error?: undefined;
}

/** What bench/peers.py prints (subset the report reads). */
export interface PeersResult {
  meta: Record<string, unknown>;
  dense: { m: number; n: number; k: number; medianMs: number; minMs: number; maxMs: number; repeat: number; tflops: number; check?: { ok: boolean } }[];
  sparse: {
    granularity: string;
    sparsity: number;
    microTileDensity: number;
    cublas: PeerTiming;
    cusparseCsr: (PeerTiming & { nnz?: number; check?: { ok: boolean } }) | { error: string };
    torchBsr: (PeerTiming & { blocksize: number[]; check?: { ok: boolean } }) | { error: string };
  }[];
  conversion: {
    microTile: string;
    sparsity: number;
    toCsr: PeerTiming;
    toBsr: (PeerTiming & { blocksize: number[] }) | { error: string; blocksize: number[] };
  }[];
  layers: { m: number; n: number; k: number; medianMs: number; tflops: number }[];
  /**
   * Weight-sparse peers at the §e size (C = A·W computed as (Wᵀ_sparse · Aᵀ)ᵀ, the sparse operand first as torch
   * requires): cuBLAS fp32 and fp16 dense, torch BSR (fp32, 32x32 blocks at each sparsity, block-sparse W like our
   * bw pattern), torch semi-structured 2:4 (fp16, `to_sparse_semi_structured`, cuSPARSELt/CUTLASS). Absent in
   * peers files written before it existed.
   */
  static?: {
    size: number;
    cublasFp32: PeerTiming | { error: string };
    cublasFp16: PeerTiming | { error: string };
    bsr: ((PeerTiming & { sparsity: number; blocksize: number[]; check?: { ok: boolean } }) | { sparsity: number; error: string })[];
    semiStructured: (PeerTiming & { sparsity: number; check?: { ok: boolean; maxAbsErr?: number; tolerance?: number }; backend?: string }) | { error: string };
  };
}

/** One issue-5 target. */
export interface Target {
  id: string;
  /** What must hold, in words. */
  goal: string;
  /** The measured figure(s), in words. */
  measured: string;
  /** true / false; null when a figure it needs is missing. */
  met: boolean | null;
}

/** Everything written to the JSON file. */
export interface BenchReport {
  meta: Record<string, unknown>;
  config: Record<string, unknown>;
  suite: SuiteResult;
  peers: PeersResult | null;
  targets: Target[];
}

function timed(x: unknown): x is PeerTiming {
  return typeof x === 'object' && x !== null && typeof (x as PeerTiming).medianMs === 'number';
}

const fmt = (x: number, d = 3): string => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
/** A ratio as `1.23x`, or `n/a`. */
const fx = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(2)}x` : 'n/a');

/**
 * `variant micro-tile`, plus the computation tile where a pit-k kernel merges several index blocks per workgroup
 * (tile BM a multiple of the micro-tile height), so the merged and the plain 32x1 rows can be told apart.
 */
export function variantName(f: { variant: string; microTile: string | null; tile: string }): string {
  const base = `${f.variant}${f.microTile ? ' ' + f.microTile : ''}`;
  const h = f.microTile ? Number(f.microTile.split('x')[0]) : NaN;
  const bm = Number(f.tile.split('x')[0]);
  return f.variant === 'pit-k' && Number.isFinite(h) && bm > h ? `${base} merged (tile ${f.tile})` : base;
}

/** Our dense figure at the §b size (the baseline of every speedup). */
export function denseBaseline(suite: SuiteResult): SparseFigure | undefined {
  return suite.sparse.find((f) => f.variant === 'dense' && f.check.ok);
}

/** The best verified sparse figure of ours (kernel + detection) for a granularity and sparsity. */
export function bestSparse(suite: SuiteResult, granularity: string, sparsity: number, variant?: string, microTile?: string): SparseFigure | undefined {
  let best: SparseFigure | undefined;
  for (const f of suite.sparse) {
    if (f.granularity !== granularity || f.sparsity !== sparsity || !f.check.ok) continue;
    if (variant && f.variant !== variant) continue;
    if (microTile && f.microTile !== microTile) continue;
    if (!best || f.totalMs < best.totalMs) best = f;
  }
  return best;
}

/**
 * Evaluates the issue-5 targets. Speedups of ours count kernel + detection (what a dynamic-sparsity call costs);
 * the kernel-only figure is given beside. cuSPARSE's speedup is cuBLAS / CSR SpMM on the same data (its conversion
 * not counted).
 */
export function evaluateTargets(suite: SuiteResult, peers: PeersResult | null, size = 4096): Target[] {
  const targets: Target[] = [];
  const d4096 = suite.dense.find((f: DenseFigure) => f.m === size && f.check.ok);
  const cublas = peers?.dense.find((p) => p.m === size);
  {
    const ratio = d4096 && cublas ? d4096.tflops / cublas.tflops : NaN;
    targets.push({
      id: 'dense-vs-cublas',
      goal: `dense >= 0.8 x cuBLAS SGEMM TFLOP/s at ${size}^3`,
      measured: d4096 ? `${fmt(d4096.tflops, 1)} vs ${cublas ? fmt(cublas.tflops, 1) : 'n/a'} TFLOP/s = ${fx(ratio)}` : 'n/a',
      met: Number.isFinite(ratio) ? ratio >= 0.8 : null,
    });
  }
  const base = denseBaseline(suite);
  // The pit-k targets name the 32x1 micro-tile: taller micro-tiles (64x1, 128x1) do not count for them.
  const pitAt = (s: number): SparseFigure | undefined => bestSparse(suite, '32x1', s, 'pit-k', '32x1');
  {
    const p = pitAt(0.9);
    const sp = base && p ? base.kernel.medianMs / p.totalMs : NaN;
    const spK = base && p ? base.kernel.medianMs / p.kernel.medianMs : NaN;
    targets.push({
      id: 'pitk-0.9',
      goal: 'pit-k 32x1 at 0.9 sparsity >= 7x faster than our dense',
      measured: p && base ? `${fx(sp)} (${variantName(p)}: kernel ${fmt(p.kernel.medianMs)} + detect ${fmt(p.detect?.medianMs ?? NaN)} ms vs dense ${fmt(base.kernel.medianMs)} ms; kernel only ${fx(spK)})` : 'n/a',
      met: Number.isFinite(sp) ? sp >= 7 : null,
    });
  }
  {
    const p = pitAt(0);
    const ratio = base && p ? p.totalMs / base.kernel.medianMs : NaN;
    const ratioK = base && p ? p.kernel.medianMs / base.kernel.medianMs : NaN;
    targets.push({
      id: 'pitk-0',
      goal: 'pit-k 32x1 at 0 sparsity <= 1.2x our dense time',
      measured: p && base ? `${fx(ratio)} (${variantName(p)}: kernel ${fmt(p.kernel.medianMs)} + detect ${fmt(p.detect?.medianMs ?? NaN)} ms vs ${fmt(base.kernel.medianMs)} ms; kernel only ${fx(ratioK)})` : 'n/a',
      met: Number.isFinite(ratio) ? ratio <= 1.2 : null,
    });
  }
  {
    const dms = d4096?.kernel.medianMs ?? base?.kernel.medianMs;
    let worst = -Infinity;
    let worstWhat = '';
    for (const f of suite.detection) {
      const frac = dms ? f.detect.medianMs / dms : NaN;
      if (frac > worst) {
        worst = frac;
        worstWhat = `${f.microTile} at ${f.sparsity}: ${fmt(f.detect.medianMs, 4)} ms`;
      }
    }
    const allOk = suite.detection.every((f) => f.indexOk);
    targets.push({
      id: 'detect-5pct',
      goal: `detection <= 5 % of the dense ${size}^3 matmul at every tested sparsity and micro-tile`,
      measured: suite.detection.length && dms ? `worst ${fmt(100 * worst, 2)} % (${worstWhat}; dense ${fmt(dms)} ms)${allOk ? '' : '; SOME INDEX WRONG'}` : 'n/a',
      met: suite.detection.length && dms ? worst <= 0.05 && allOk : null,
    });
  }
  for (const g of ['32x1', '1x64']) {
    const rows: string[] = [];
    let met: boolean | null = true;
    const sps = [...new Set(suite.sparse.filter((f) => f.granularity === g && f.sparsity >= 0.9).map((f) => f.sparsity))].sort();
    if (!sps.length || !base || !peers) met = null;
    for (const s of sps) {
      const ours = bestSparse(suite, g, s);
      const peer = peers?.sparse.find((p) => p.granularity === g && p.sparsity === s);
      const csr = peer && timed(peer.cusparseCsr) ? peer.cusparseCsr : undefined;
      const oursSp = ours && base ? base.kernel.medianMs / ours.totalMs : NaN;
      const peerSp = peer && csr ? peer.cublas.medianMs / csr.medianMs : NaN;
      if (!Number.isFinite(oursSp) || !Number.isFinite(peerSp)) met = null;
      else if (met !== null) met = met && oursSp > peerSp;
      rows.push(`${s}: ours ${fx(oursSp)} (${ours ? variantName(ours) : 'n/a'}) vs cuSPARSE ${fx(peerSp)}`);
    }
    targets.push({
      id: `vs-cusparse-${g}`,
      goal: `at >= 0.9 sparsity, our best speedup over our dense beats cuSPARSE's over cuBLAS (${g})`,
      measured: rows.join('; ') || 'n/a',
      met,
    });
  }
  return targets;
}

/**
 * §e: the static weight-pattern families against our dense at the same shape, with the index build (CPU, once per
 * model) apart, the ideal speed-up 1 / effective density, and the PyTorch peers (BSR on block-sparse W, fp32;
 * semi-structured 2:4 in fp16 against cuBLAS fp16 — another precision, so only its own ratio is comparable).
 */
export function staticSection(suite: SuiteResult, peers: PeersResult | null): string[] {
  const figs = suite.static ?? [];
  if (!figs.length) return [];
  const base = figs.find((f) => f.pattern === 'dense');
  const ps = peers?.static;
  const out: string[] = [];
  const size = `${figs[0]!.size}³`;
  out.push(`## (e) Static weight patterns (synthetic pruned W ${size}, dense A): each family vs our dense`, '');
  if (base) out.push(`Our dense at this shape: ${fmt(base.kernel.medianMs)} ms (${base.label}). Index = CPU time to build the family's index and packed weight from W, once per model (not in the kernel time). Ideal = 1 / effective density.`, '');
  const cublas = ps && timed(ps.cublasFp32) ? ps.cublasFp32 : undefined;
  out.push('| pattern | target | W sparsity | family | effective density | kernel ms [min–max] | index ms (CPU, once) | speedup vs our dense | ideal | torch BSR fp32 ms (32x32) | BSR speedup vs cuBLAS fp32 | verified |', '|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const f of figs) {
    if (f.pattern === 'dense') continue;
    const bsr = f.pattern === 'bw' ? ps?.bsr.find((b) => b.sparsity === f.target) : undefined;
    const bsrT = bsr && timed(bsr) ? bsr : undefined;
    out.push(
      `| ${f.pattern} | ${f.target} | ${fmt(f.sparsity, 4)} | ${f.variant} | ${fmt(f.effectiveDensity, 4)} | ${fmt(f.kernel.medianMs)} [${fmt(f.kernel.minMs)}–${fmt(f.kernel.maxMs)}] | ${fmt(f.indexMs ?? NaN, 1)} | ${fmt(f.speedup, 2)} | ${fmt(1 / f.effectiveDensity, 2)} | ` +
        `${bsrT ? fmt(bsrT.medianMs) : bsr ? 'error' : 'n/a'} | ${bsrT && cublas ? fmt(cublas.medianMs / bsrT.medianMs, 2) : 'n/a'} | ${f.check.ok ? 'yes' : 'NO'} |`,
    );
  }
  out.push('');
  if (ps) {
    const c16 = timed(ps.cublasFp16) ? ps.cublasFp16 : undefined;
    const ss = timed(ps.semiStructured) ? ps.semiStructured : undefined;
    out.push(`PyTorch at ${ps.size}³: cuBLAS fp32 ${cublas ? `${fmt(cublas.medianMs)} ms` : 'error'}, fp16 ${c16 ? `${fmt(c16.medianMs)} ms` : 'error'}.`);
    if (ss) out.push(`Semi-structured 2:4 (fp16, to_sparse_semi_structured${ss.backend ? `, ${ss.backend}` : ''}): ${fmt(ss.medianMs)} ms = ${c16 ? fmt(c16.medianMs / ss.medianMs, 2) : 'n/a'}x cuBLAS fp16${ss.check && !ss.check.ok ? ' (CHECK FAILED)' : ''}; our nm is fp32 on SIMT cores (no sparse tensor cores in WGSL): compare ratios, not times.`);
    else out.push(`Semi-structured 2:4 did not run: ${(ps.semiStructured as { error: string }).error}.`);
    const errs = ps.bsr.filter((b) => !timed(b)).map((b) => `${b.sparsity}: ${(b as { error: string }).error}`);
    if (errs.length) out.push(`torch BSR did not run at: ${errs.join('; ')}.`);
    out.push('');
  }
  return out;
}

const mark = (m: boolean | null): string => (m === null ? 'not measured' : m ? '**met**' : '**not met**');

/** The Markdown summary of a report. */
export function renderMarkdown(r: BenchReport): string {
  const { suite, peers, meta } = r;
  const out: string[] = [];
  out.push(`# PIT Studio bench — ${String(meta.adapter ?? 'unknown adapter')}`, '');
  out.push(`- date: ${String(meta.date)}; commit: ${String(meta.commit)}; node ${String(meta.node)}`);
  out.push(`- adapter: ${String(meta.adapterDescription ?? '')}`);
  if (peers) out.push(`- peers: torch ${String(peers.meta.torch)}, CUDA ${String(peers.meta.cuda)}, ${String(peers.meta.device)}; nvidia-smi: ${String(peers.meta.nvidiaSmi)}; TF32 ${String(peers.meta.allowTf32)}`);
  out.push(`- timing: WebGPU timestamp queries per compute pass (ours), CUDA events (peers); median of repeats, [min–max] spread.`, '');
  out.push('## Targets (issue 5)', '', '| target | measured | status |', '|---|---|---|');
  for (const t of r.targets) out.push(`| ${t.goal} | ${t.measured} | ${mark(t.met)} |`);
  out.push('');

  out.push('## (a) Dense fp32 matmul vs cuBLAS SGEMM (TF32 off)', '', '| M=N=K | ours ms [min–max] | ours TFLOP/s | cuBLAS ms | cuBLAS TFLOP/s | ratio | kernel | verified |', '|---|---|---|---|---|---|---|---|');
  for (const f of suite.dense) {
    const p = peers?.dense.find((x) => x.m === f.m && x.n === f.n && x.k === f.k);
    out.push(
      `| ${f.m} | ${fmt(f.kernel.medianMs)} [${fmt(f.kernel.minMs)}–${fmt(f.kernel.maxMs)}] | ${fmt(f.tflops, 1)} | ${p ? fmt(p.medianMs) : 'n/a'} | ${p ? fmt(p.tflops, 1) : 'n/a'} | ${p ? fmt(f.tflops / p.tflops, 2) : 'n/a'} | ${f.label} | ${f.check.ok ? 'yes' : 'NO'} |`,
    );
  }
  out.push('');

  const base = denseBaseline(suite);
  out.push(`## (b) Sparse matmul ${suite.sparse[0] ? '' : '(not run)'}`, '');
  if (base) out.push(`Our dense at this size: ${fmt(base.kernel.medianMs)} ms (${base.label}). Speedups are over each stack's own dense; ours count kernel + detection.`, '');
  out.push('| granularity | sparsity | variant | kernel ms [min–max] | detect ms | total ms | speedup | cuBLAS ms | cuSPARSE CSR ms | CSR speedup | torch BSR ms (block) | BSR speedup | verified |', '|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const f of suite.sparse) {
    if (f.variant === 'dense') continue;
    const p = peers?.sparse.find((x) => x.granularity === f.granularity && x.sparsity === f.sparsity);
    const csr = p && timed(p.cusparseCsr) ? p.cusparseCsr : undefined;
    const bsr = p && timed(p.torchBsr) ? (p.torchBsr as PeerTiming & { blocksize: number[] }) : undefined;
    out.push(
      `| ${f.granularity} | ${f.sparsity} | ${variantName(f)} | ${fmt(f.kernel.medianMs)} [${fmt(f.kernel.minMs)}–${fmt(f.kernel.maxMs)}] | ${fmt(f.detect?.medianMs ?? 0, 4)} | ${fmt(f.totalMs)} | ${base ? fmt(base.kernel.medianMs / f.totalMs, 2) : 'n/a'} | ` +
        `${p ? fmt(p.cublas.medianMs) : 'n/a'} | ${csr ? fmt(csr.medianMs) : p ? 'error' : 'n/a'} | ${csr && p ? fmt(p.cublas.medianMs / csr.medianMs, 2) : 'n/a'} | ` +
        `${bsr ? `${fmt(bsr.medianMs)} (${bsr.blocksize.join('x')})` : p ? 'error' : 'n/a'} | ${bsr && p ? fmt(p.cublas.medianMs / bsr.medianMs, 2) : 'n/a'} | ${f.check.ok ? 'yes' : 'NO'} |`,
    );
  }
  out.push('');
  if (peers) {
    const errs = peers.sparse.filter((p) => !timed(p.torchBsr)).map((p) => `${p.granularity}@${p.sparsity}: ${(p.torchBsr as { error: string }).error}`);
    if (errs.length) out.push(`torch BSR did not run for: ${[...new Set(errs)].slice(0, 6).join('; ')}`, '');
  }

  out.push('## (c) Detection (index construction) vs PyTorch dense→CSR / dense→BSR', '');
  const dms = suite.dense.find((f) => f.m === 4096)?.kernel.medianMs ?? base?.kernel.medianMs;
  out.push('| micro-tile | sparsity | program | ms [min–max] | % of dense 4096³ | index verified | torch →CSR ms | torch →BSR ms |', '|---|---|---|---|---|---|---|---|');
  for (const f of suite.detection) {
    const p = peers?.conversion.find((x) => x.microTile === f.microTile && x.sparsity === f.sparsity);
    const bsr = p && timed(p.toBsr) ? p.toBsr : undefined;
    out.push(
      `| ${f.microTile} | ${f.sparsity} | ${f.program} | ${fmt(f.detect.medianMs, 4)} [${fmt(f.detect.minMs, 4)}–${fmt(f.detect.maxMs, 4)}] | ${dms ? fmt((100 * f.detect.medianMs) / dms, 2) : 'n/a'} | ${f.indexOk ? 'yes' : 'NO'} | ${p ? fmt(p.toCsr.medianMs) : 'n/a'} | ${bsr ? fmt(bsr.medianMs) : p ? 'error' : 'n/a'} |`,
    );
  }
  out.push('');

  if (suite.layers.length) {
    out.push('## (d) Demo model layers (PaddleOCR v4 det): real micro-tile masks, synthetic values', '');
    out.push('| layer | M×N×K | sparsity | 32x1 density | row density | dense ms | cuBLAS ms | chosen | chosen ms (incl. detect) | speedup |', '|---|---|---|---|---|---|---|---|---|---|');
    let dt = 0;
    let ct = 0;
    let cb = 0;
    for (const L of suite.layers) {
      const p = peers?.layers.find((x) => x.m === L.m && x.n === L.n && x.k === L.k);
      dt += L.denseMs;
      ct += L.chosenMs;
      cb += p?.medianMs ?? NaN;
      out.push(
        `| ${L.name} | ${L.m}×${L.n}×${L.k} | ${fmt(L.sparsity, 3)} | ${fmt(L.density32x1, 3)} | ${fmt(L.densityRows, 3)} | ${fmt(L.denseMs, 4)} | ${p ? fmt(p.medianMs, 4) : 'n/a'} | ${L.chosen} | ${fmt(L.chosenMs, 4)} | ${fmt(L.denseMs / L.chosenMs, 2)} |`,
      );
    }
    out.push(`| **total** | ${suite.layers.length} layers | | | | ${fmt(dt)} | ${fmt(cb)} | | ${fmt(ct)} | ${fmt(dt / ct, 2)} |`, '');
  }
  out.push(...staticSection(suite, peers));
  if (suite.tuned) {
    out.push('## Per-adapter tuning', '', `Chosen for this run: dense ${suite.tuned.dense}; pit-k 32x1 ${suite.tuned.pitK} at sparsity >= 0.7 and ${suite.tuned.pitKLow} below; pit-m 1x64 ${suite.tuned.pitM64} (fastest verified at the §b size).`, '');
    out.push('| family | tile | data | kernel ms | detect ms | TFLOP/s (dense-equivalent) | verified |', '|---|---|---|---|---|---|---|');
    for (const s of suite.tuned.candidates) out.push(`| ${s.family} | ${s.tile} | ${s.data} | ${fmt(s.kernelMs)} | ${fmt(s.detectMs, 4)} | ${fmt(s.tflops, 1)} | ${s.ok ? 'yes' : s.error ?? 'NO'} |`);
    out.push('');
  }
  if (suite.sweep.length) {
    out.push('## Tile sweep', '', '| family | tile | data | kernel ms | detect ms | TFLOP/s (dense-equivalent) | verified |', '|---|---|---|---|---|---|---|');
    for (const s of suite.sweep) out.push(`| ${s.family} | ${s.tile} | ${s.data} | ${fmt(s.kernelMs)} | ${fmt(s.detectMs, 4)} | ${fmt(s.tflops, 1)} | ${s.ok ? 'yes' : s.error ?? 'NO'} |`);
    out.push('');
  }
  if (suite.errors.length) out.push('## Errors', '', ...suite.errors.map((e) => `- ${e}`), '');
  return out.join('\n');
}
