/**
 * What the Tile-database view derives from the host's answers: the state of a tune folded from its events, the
 * chart's series (latency against sparsity, one per configuration, at one problem size), where each sparse
 * configuration starts beating dense, and the tune request a form makes. Pure (tested in test/renderer): every
 * function returns new values and never mutates its input. Times in ms, sparsities 0–1.
 */
import type {
  AdapterDescriptor,
  HostEvent,
  TileDbListItem,
  TileDbOverview,
  TileDbPointInfo,
  TuneEnd,
  TuneJobInfo,
  TunePlanInfo,
  TuneRequest,
} from '../../../core/protocol.ts';

// ---- A tune, from start to end ----

/** A tune as the view shows it. */
export interface TuneState {
  jobId: string | null;
  tileDbId: number | null;
  plan: 'quick' | 'full' | null;
  /** The latest log line (device, plan), or the end. */
  message: string;
  done: number;
  /** Points to measure (stored ones excluded); 0 before the tuner started. */
  total: number;
  /** Points already stored, skipped (a resumed tune). */
  skipped: number;
  /** The host's estimate of the time left, ms; null before the first point. */
  etaMs: number | null;
  /** The latest point, one line: `pit-k 8x1 @8x64x8/2x4 32x128x256 s=0.9 → 0.123 ms`. */
  lastPoint: string;
  /** Points measured by this tune that failed verification or to run. */
  failed: number;
  end: TuneEnd | null;
}

/** A tune the client just asked for (its id comes with the response or its first event). */
export function startingTune(): TuneState {
  return { jobId: null, tileDbId: null, plan: null, message: 'starting…', done: 0, total: 0, skipped: 0, etaMs: null, lastPoint: '', failed: 0, end: null };
}

/** A tune already running when the client connected (`tiledb.status`). */
export function tuneFromInfo(info: TuneJobInfo): TuneState {
  const s: TuneState = { ...startingTune(), jobId: info.jobId, tileDbId: info.tileDbId, message: 'running' };
  return info.last ? applyTuneEvent(s, { type: 'tune.progress', jobId: info.jobId, event: info.last }) : s;
}

/** One line for a measured point. */
export function pointLine(p: TileDbPointInfo): string {
  const what = p.ok ? `${fmt(p.kernelMs)} ms${isDense(p) ? '' : ` + detection ${fmt(p.detectMs)} ms`}` : `FAILED${p.error ? `: ${p.error}` : ''}`;
  return `${p.config} ${sizeKey(p)} s=${p.sparsity} → ${what}`;
}

const fmt = (ms: number | null) => (ms === null ? '—' : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3));

/**
 * Folds one host event into the tune. Events of other tunes are ignored; while the job id is unknown, the first
 * progress event names it (events can overtake the response to `tiledb.tune`).
 */
export function applyTuneEvent(s: TuneState, e: HostEvent): TuneState {
  if (e.type === 'tune.progress') {
    if (s.end) return s;
    if (s.jobId !== null && e.jobId !== s.jobId) return s;
    const jobId = s.jobId ?? e.jobId;
    const ev = e.event;
    if (ev.kind === 'start') return { ...s, jobId, tileDbId: ev.tileDbId, plan: ev.plan, total: ev.total, skipped: ev.skipped, done: 0 };
    if (ev.kind === 'point') {
      return { ...s, jobId, tileDbId: ev.tileDbId, done: ev.done, total: ev.total, etaMs: ev.etaMs, lastPoint: pointLine(ev.point), failed: s.failed + (ev.point.ok ? 0 : 1) };
    }
    return { ...s, jobId, message: ev.message };
  }
  if (e.type === 'tune.end') {
    if (s.jobId === null || e.end.jobId !== s.jobId) return s;
    const message =
      e.end.status === 'failed'
        ? e.end.error
        : `${e.end.status}: ${e.end.measured} points measured${e.end.skipped ? `, ${e.end.skipped} already stored` : ''}` +
          (e.end.failed ? `, ${e.end.failed} failed` : '') +
          (e.end.status === 'cancelled' ? ' (tune again to resume)' : '');
    return { ...s, end: e.end, tileDbId: e.end.tileDbId ?? s.tileDbId, etaMs: 0, message };
  }
  return s;
}

/** Fraction 0–1 of the tune's points measured (0 before the total is known; 1 when nothing was left to measure). */
export function tuneFraction(s: TuneState): number {
  if (s.total > 0) return Math.min(1, s.done / s.total);
  return s.end && s.end.status === 'complete' ? 1 : 0;
}

// ---- Databases ----

/** Whether two descriptors name the same adapter (what a tile database is keyed by; timestamp support aside). */
export function sameAdapter(a: AdapterDescriptor | null | undefined, b: AdapterDescriptor | null | undefined): boolean {
  if (!a || !b) return false;
  return (['vendor', 'architecture', 'device', 'description', 'backend'] as const).every((f) => a[f] === b[f]);
}

/** The databases of this host's adapter (any kernels), most recent first, and those of other adapters. */
export function splitDatabases(o: TileDbOverview): { mine: TileDbListItem[]; others: TileDbListItem[] } {
  const mine = o.databases.filter((d) => sameAdapter(d.adapter, o.adapter));
  return { mine, others: o.databases.filter((d) => !mine.includes(d)) };
}

/** The database to show first: the one profiles use, else this adapter's latest, else none. */
export function defaultDatabase(o: TileDbOverview): number | null {
  return o.current ?? splitDatabases(o).mine[0]?.id ?? null;
}

// ---- Chart ----

/** `MxNxK` of a point. */
export function sizeKey(p: { m: number; n: number; k: number }): string {
  return `${p.m}x${p.n}x${p.k}`;
}

/** The problem sizes measured, smallest work first. */
export function sizesOf(points: readonly TileDbPointInfo[]): string[] {
  const work = new Map<string, number>();
  for (const p of points) work.set(sizeKey(p), p.m * p.n * p.k);
  return [...work.keys()].sort((a, b) => work.get(a)! - work.get(b)! || a.localeCompare(b));
}

/** The size to chart first: the one with the most points, the largest of those (its latencies say most). */
export function defaultSize(points: readonly TileDbPointInfo[]): string | null {
  const count = new Map<string, number>();
  for (const p of points) count.set(sizeKey(p), (count.get(sizeKey(p)) ?? 0) + 1);
  let best: string | null = null;
  for (const s of sizesOf(points)) if (best === null || count.get(s)! >= count.get(best)!) best = s;
  return best;
}

/** What the chart plots: kernel + detection (what the policy compares), or the kernel alone. */
export type Metric = 'total' | 'kernel';

/** The time a point contributes under `metric`; null when it failed. */
export function pointMs(p: TileDbPointInfo, metric: Metric): number | null {
  if (!p.ok || p.kernelMs === null) return null;
  return metric === 'kernel' ? p.kernelMs : p.kernelMs + (p.detectMs ?? 0);
}

/** One line of the chart: a configuration at one size. */
export interface Series {
  config: string;
  family: TileDbPointInfo['family'];
  microTile: string | null;
  computeTile: string;
  /** [sparsity, ms] by increasing sparsity (verified points only). */
  data: [number, number][];
  /** Sparsities where the configuration failed. */
  failed: number[];
}

/**
 * The series at one size, one per configuration, in the order configurations were first measured (the plan's:
 * dense tiles, then pit-k by height, then pit-m by width).
 */
export function seriesAt(points: readonly TileDbPointInfo[], size: string, metric: Metric): Series[] {
  const out = new Map<string, Series>();
  for (const p of points) {
    if (sizeKey(p) !== size) continue;
    let s = out.get(p.config);
    if (!s) out.set(p.config, (s = { config: p.config, family: p.family, microTile: p.microTile, computeTile: p.computeTile, data: [], failed: [] }));
    const ms = pointMs(p, metric);
    if (ms === null) s.failed.push(p.sparsity);
    else s.data.push([p.sparsity, ms]);
  }
  for (const s of out.values()) {
    s.data.sort((a, b) => a[0] - b[0]);
    s.failed.sort((a, b) => a - b);
  }
  return [...out.values()];
}

/**
 * Whether a configuration is a dense one (the reference lines): it has no micro-tile. Families are data (issue 13):
 * nothing here names one; the dense family is the one whose configurations skip nothing.
 */
export function isDense(c: { microTile: string | null }): boolean {
  return c.microTile === null;
}

/** The fastest dense time at each measured sparsity (the reference a sparse configuration must beat). */
export function bestDense(series: readonly Series[]): Map<number, number> {
  const best = new Map<number, number>();
  for (const s of series) {
    if (!isDense(s)) continue;
    for (const [x, ms] of s.data) if (!best.has(x) || ms < best.get(x)!) best.set(x, ms);
  }
  return best;
}

/** A configuration's summary at one size. */
export interface SeriesSummary {
  config: string;
  family: Series['family'];
  microTile: string | null;
  points: number;
  failed: number;
  /** Its lowest time over the sparsities measured. */
  minMs: number;
  /**
   * The lowest sparsity from which it beats the best dense at every measured sparsity above (null when it never
   * does, or for dense itself): PIT's threshold, read off the grid.
   */
  beatsDenseFrom: number | null;
  /** Best dense / its time at the highest sparsity both were measured at (NaN when unknown). */
  speedupAtMax: number;
}

/** Per configuration: points, best time, where it starts beating dense, and the speed-up at the sparsest point. */
export function summarise(series: readonly Series[]): SeriesSummary[] {
  const dense = bestDense(series);
  return series.map((s) => {
    let beatsDenseFrom: number | null = null;
    let speedupAtMax = Number.NaN;
    if (!isDense(s)) {
      const compared = s.data.filter(([x]) => dense.has(x));
      for (let i = compared.length - 1; i >= 0; i--) {
        const [x, ms] = compared[i]!;
        if (ms < dense.get(x)!) beatsDenseFrom = x;
        else break;
      }
      const last = compared.at(-1);
      if (last) speedupAtMax = dense.get(last[0])! / last[1];
    }
    return {
      config: s.config,
      family: s.family,
      microTile: s.microTile,
      points: s.data.length + s.failed.length,
      failed: s.failed.length,
      minMs: s.data.length ? Math.min(...s.data.map(([, ms]) => ms)) : Number.NaN,
      beatsDenseFrom,
      speedupAtMax,
    };
  });
}

// ---- The tune form ----

/** Legal points of a plan restricted to some sizes and sparsities (a `1xW` rule only where W < K, as the host plans). */
export function plannedPoints(plan: TunePlanInfo, sizes: readonly string[], sparsities: readonly number[]): number {
  let n = 0;
  for (const size of plan.sizes) {
    if (!sizes.includes(size)) continue;
    const k = Number(size.split('x')[2]);
    for (const c of plan.configs) {
      // A row-segment micro-tile 1xW (W a number; 1xK is whole rows) is only legal where W < K.
      const w = c.microTile && /^1x\d+$/.test(c.microTile) ? Number(c.microTile.split('x')[1]) : null;
      if (w === null || w < k) n++;
    }
  }
  return n * plan.sparsities.filter((s) => sparsities.includes(s)).length;
}

/**
 * The request for a tune of `plan` restricted to the ticked sizes and sparsities (a restriction that keeps
 * everything is left out, so the request reads as the whole plan).
 * @throws Error with a message for the form when nothing is ticked.
 */
export function tuneRequest(plan: TunePlanInfo, sizes: readonly string[], sparsities: readonly number[]): TuneRequest {
  const pickedSizes = plan.sizes.filter((s) => sizes.includes(s));
  const pickedSparsities = plan.sparsities.filter((s) => sparsities.includes(s));
  if (!pickedSizes.length) throw new Error('Tick at least one problem size.');
  if (!pickedSparsities.length) throw new Error('Tick at least one sparsity.');
  const req: TuneRequest = { quick: plan.name === 'quick' };
  if (pickedSizes.length < plan.sizes.length) req.sizes = pickedSizes;
  if (pickedSparsities.length < plan.sparsities.length) req.sparsities = pickedSparsities;
  return req;
}
