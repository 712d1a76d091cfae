/**
 * The cost model that turns tile-database points into a prediction at any layer shape and density.
 *
 * PIT's own policy (SparTA pit_sm80 `test/microbench/online_search.py`) looks latencies up in `stile_db.csv` at
 * the one problem size it was measured on (4096², step-down to the nearest measured sparsity). Our layers range
 * from 1×24×96 to 3072×32×16, so the database here holds a few problem sizes and the prediction moves between them
 * with a per-configuration linear model over *tile-quantised work*, fitted to all of the configuration's points:
 *
 *   ms ≈ θ0 + θ1·G + θ2·U (+ θ3·F)      with θ ≥ 0,
 *
 * - G: workgroups launched, read from the program descriptor's grid (per-workgroup launch, prologue and epilogue:
 *   where lavapipe spends a lot);
 * - U: tile-steps of real work — one step is one BM×BN×BK slice multiplied by a workgroup — computed from the exact
 *   per-block micro-tile counts (pit-k: Σ_blocks ceil(count/BK) per column tile; pit-m: Σ_chunks ceil(count/BM) ×
 *   ceil(chunk width/BK); dense: G·ceil(K/BK)). Padding is counted as work, which is what makes a 64-row tile slow on
 *   a 12-row layer;
 * - F: M·N/256, the zero-fill of C that pit-m's kernel time includes.
 * Detection: ms ≈ θ0 + θ1·G + θ2·E + θ3·A with G its workgroups, E = M·K elements read, A = non-zero micro-tiles
 * appended.
 *
 * Parallel width: a device runs P workgroups at once, so G workgroups take ceil(G/P) *waves*, and what matters is
 * the work per wave, not the total (on lavapipe P is about the number of CPU threads: a 1-workgroup layer uses one
 * core, a 2-workgroup layer two; on a discrete GPU P is in the hundreds, so small layers cost one wave). Before
 * fitting, G becomes ceil(G/P) and the work features (U, E, A) are scaled by ceil(G/P)/G. P is not configured but
 * estimated from the database: the power of two that best explains all its points (tiledb.ts).
 *
 * The fit minimises the *relative* squared error (points span 0.05–100 ms; an absolute fit would ignore the small
 * ones), with θ ≥ 0 by trying every subset of features and keeping the best non-negative solution (at most 15 tiny
 * solves). Then a density correction: per sparsity grid point, the median measured/fitted ratio over sizes, made
 * non-decreasing in density (pool-adjacent-violators) and interpolated linearly in density between grid points
 * (clamped at the ends). A prediction is fitted(features) × correction(density) — linear in density between grid
 * points, scaled between problem sizes by tile-quantised work.
 */

/** A matmul shape C[M,N] = A[M,K]·B[K,N] (element counts). */
export interface Shape {
  m: number;
  n: number;
  k: number;
}

/**
 * One observation for fitting: the raw feature vector ([1, G, work…], see the feature functions), the measured time
 * (ms), and where it sits on the density grid.
 */
export interface Observation {
  x: number[];
  ms: number;
  /** Effective micro-tile density 0–1 of the operand measured. */
  density: number;
  /** Target sparsity of the grid point (groups observations for the density correction). */
  sparsity: number;
}

/** A fitted configuration model. */
export interface FittedModel {
  /** Feature names, in the order of `theta`. */
  features: string[];
  /** Coefficients (ms per unit of each feature), all >= 0. */
  theta: number[];
  /** Non-decreasing correction factor by density, sorted by density; empty means 1 everywhere. */
  correction: { density: number; ratio: number }[];
  /** Observations used. */
  points: number;
  /** Median |predicted/measured − 1| over the observations (after correction). */
  medianRelErr: number;
  /** Sum of squared relative errors of the fit before correction (what the parallel width is chosen by). */
  sse: number;
  /** Parallel width P the features were folded with (workgroups per wave). */
  parallelism: number;
  /** Number of work features after G (scaled per wave). */
  workFeatures?: number;
}

/**
 * Folds raw features into per-wave features for a parallel width P (see the module comment): index 1 (G) becomes
 * ceil(G/P), and the work features that follow it (indices 2.. up to `workFeatures`) are scaled by ceil(G/P)/G.
 * Features after them (pit-m's zero-fill F) are left as they are.
 */
export function perWave(x: readonly number[], p: number, workFeatures = x.length - 2): number[] {
  const g = x[1]!;
  if (!(g > 0) || p <= 1) return [...x];
  const waves = Math.ceil(g / p);
  return x.map((v, i) => (i === 1 ? waves : i >= 2 && i < 2 + workFeatures ? (v * waves) / g : v));
}


/** Feature names of the detection model (every family's detection is the same kind of pass over A). */
export const DETECT_FEATURES = ['1', 'G', 'E', 'P'] as const;

/**
 * Detection: [1, G, E, P].
 * @param g workgroups of the detection program's grid.
 * @param elements elements of A it reads (M·K).
 * @param appended number of non-zero micro-tiles (index entries written).
 */
export function detectFeatures(g: number, elements: number, appended: number): number[] {
  return [1, g, elements, appended];
}

/** Solves the normal equations of a small least-squares problem (Gaussian elimination, partial pivoting); null if singular. */
function solveLeastSquares(rows: number[][], y: number[]): number[] | null {
  const p = rows[0]!.length;
  const a: number[][] = Array.from({ length: p }, () => new Array<number>(p + 1).fill(0));
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    for (let j = 0; j < p; j++) {
      for (let l = 0; l < p; l++) a[j]![l]! += r[j]! * r[l]!;
      a[j]![p]! += r[j]! * y[i]!;
    }
  }
  for (let c = 0; c < p; c++) {
    let piv = c;
    for (let r = c + 1; r < p; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[piv]![c]!)) piv = r;
    if (Math.abs(a[piv]![c]!) < 1e-12) return null;
    [a[c], a[piv]] = [a[piv]!, a[c]!];
    for (let r = 0; r < p; r++) {
      if (r === c) continue;
      const f = a[r]![c]! / a[c]![c]!;
      for (let l = c; l <= p; l++) a[r]![l]! -= f * a[c]![l]!;
    }
  }
  return a.map((row, i) => row[p]! / row[i]!);
}

/**
 * Relative non-negative least squares: θ >= 0 minimising Σ ((x·θ − ms)/ms)², by solving every subset of features
 * (columns scaled to unit maximum for conditioning) and keeping the feasible one with the smallest residual.
 * @throws RangeError when there are no observations or a time is not positive.
 */
export function fitTheta(obs: readonly Observation[]): { theta: number[]; sse: number } {
  if (!obs.length) throw new RangeError('cost model: no observations to fit');
  const p = obs[0]!.x.length;
  for (const o of obs) {
    if (!(o.ms > 0) || !Number.isFinite(o.ms)) throw new RangeError(`cost model: time ${o.ms} ms is not a positive number`);
    if (o.x.length !== p) throw new RangeError('cost model: observations have different feature counts');
  }
  const scale = Array.from({ length: p }, (_, j) => Math.max(...obs.map((o) => Math.abs(o.x[j]!))) || 1);
  let best: { theta: number[]; sse: number } | null = null;
  for (let mask = 1; mask < 1 << p; mask++) {
    const cols = [...Array(p).keys()].filter((j) => mask & (1 << j));
    if (cols.length > obs.length) continue;
    const rows = obs.map((o) => cols.map((j) => o.x[j]! / scale[j]! / o.ms));
    const sol = solveLeastSquares(rows, obs.map(() => 1));
    if (!sol || sol.some((v) => !(v >= 0) || !Number.isFinite(v))) continue;
    const theta = new Array<number>(p).fill(0);
    cols.forEach((j, i) => (theta[j] = sol[i]! / scale[j]!));
    let sse = 0;
    for (const o of obs) sse += (dot(o.x, theta) / o.ms - 1) ** 2;
    if (!best || sse < best.sse - 1e-15) best = { theta, sse };
  }
  // Always feasible: the constant-only solution is the mean-ratio fit and has θ0 > 0.
  return best!;
}

function dot(x: readonly number[], t: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * t[i]!;
  return s;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Pool-adjacent-violators: the non-decreasing sequence closest (least squares, equal weights) to `ys`. */
export function isotonic(ys: readonly number[]): number[] {
  const blocks: { sum: number; n: number }[] = [];
  for (const y of ys) {
    blocks.push({ sum: y, n: 1 });
    while (blocks.length > 1 && blocks[blocks.length - 2]!.sum / blocks[blocks.length - 2]!.n > blocks[blocks.length - 1]!.sum / blocks[blocks.length - 1]!.n) {
      const b = blocks.pop()!;
      blocks[blocks.length - 1]!.sum += b.sum;
      blocks[blocks.length - 1]!.n += b.n;
    }
  }
  return blocks.flatMap((b) => new Array<number>(b.n).fill(b.sum / b.n));
}

/** Correction factors are kept within this range: beyond it the fit, not the correction, is wrong. */
const CORRECTION_RANGE = [0.5, 2] as const;

/**
 * Fits a configuration's model: θ by relative NNLS on the per-wave features for parallel width `parallelism`, then
 * the density correction (see the module comment). With a single sparsity in the data (e.g. dense), the correction
 * is empty.
 * @param workFeatures how many features after G are work (scaled per wave); the rest are left as they are.
 * @throws RangeError when there are no usable observations.
 */
export function fitModel(features: readonly string[], raw: readonly Observation[], parallelism = 1, workFeatures = features.length - 2): FittedModel {
  let usable = raw.filter((o) => o.ms > 0 && Number.isFinite(o.ms)).map((o) => ({ ...o, x: perWave(o.x, parallelism, workFeatures) }));
  let { theta, sse } = fitTheta(usable);
  // One trimming pass: a point far off the fit (3x the median error, and over 25 %) is most likely a measurement
  // that other load on the machine inflated beyond what the tuner's lowest-of-rounds could undo.
  const errs = usable.map((o) => Math.abs(dot(o.x, theta) / o.ms - 1));
  const cut = Math.max(0.25, 3 * median(errs));
  const kept = usable.filter((_, i) => errs[i]! <= cut);
  if (kept.length < usable.length && kept.length >= Math.max(features.length, Math.ceil(usable.length * 0.75))) {
    usable = kept;
    ({ theta, sse } = fitTheta(usable));
  }
  const groups = new Map<number, Observation[]>();
  for (const o of usable) {
    let g = groups.get(o.sparsity);
    if (!g) groups.set(o.sparsity, (g = []));
    g.push(o);
  }
  let correction: FittedModel['correction'] = [];
  if (groups.size > 1) {
    const pts = [...groups.values()]
      .map((g) => ({
        density: g.reduce((s, o) => s + o.density, 0) / g.length,
        ratio: median(g.map((o) => o.ms / Math.max(dot(o.x, theta), 1e-9))),
      }))
      .sort((a, b) => a.density - b.density);
    const mono = isotonic(pts.map((p) => p.ratio));
    correction = pts.map((p, i) => ({ density: p.density, ratio: Math.min(CORRECTION_RANGE[1], Math.max(CORRECTION_RANGE[0], mono[i]!)) }));
  }
  const model: FittedModel = { features: [...features], theta, correction, points: usable.length, medianRelErr: 0, sse, parallelism };
  model.medianRelErr = usable.length ? median(usable.map((o) => Math.abs((dot(o.x, theta) * correctionAt(model, o.density)) / o.ms - 1))) : 0;
  model.workFeatures = workFeatures;
  return model;
}

/** The correction factor at `density`: linear between grid points, constant beyond the ends, 1 without a correction. */
export function correctionAt(model: FittedModel, density: number): number {
  const c = model.correction;
  if (!c.length) return 1;
  if (density <= c[0]!.density) return c[0]!.ratio;
  for (let i = 1; i < c.length; i++) {
    const a = c[i - 1]!;
    const b = c[i]!;
    if (density <= b.density) {
      const f = b.density > a.density ? (density - a.density) / (b.density - a.density) : 1;
      return a.ratio + f * (b.ratio - a.ratio);
    }
  }
  return c[c.length - 1]!.ratio;
}

/** Predicted ms for a raw feature vector at an effective density (0–1). */
export function predictModel(model: FittedModel, x: readonly number[], density: number): number {
  return dot(perWave(x, model.parallelism, model.workFeatures), model.theta) * correctionAt(model, density);
}
