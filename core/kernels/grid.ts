/**
 * Dispatch grids as data: each dimension is a small expression over the layer's sizes (`M`, `N`, `K`), so one
 * description both *evaluates* to the workgroup counts dispatched at a shape and *prints* as the formula the exported
 * manifest shows (`ceil(N/128), ceil(M/128), 1`). The two can never disagree, unlike a grid computed in code beside
 * a formula typed by hand.
 */

/** Values of the variables a grid refers to (`M`, `N`, `K`, the batch `B`, each ≥ 1). */
export type GridVars = Readonly<Record<string, number>>;

/** One dimension of a grid: a text and its value at given sizes. */
export interface GridTerm {
  /** Formula, e.g. `ceil(M/32)`. */
  readonly text: string;
  /** Its value (a non-negative integer) at `vars`. @throws RangeError on an unknown variable. */
  at(vars: GridVars): number;
}

/** A grid of workgroups, `[x, y, z]`. */
export type Grid = readonly [GridTerm, GridTerm, GridTerm];

const lift = (t: GridTerm | number): GridTerm => (typeof t === 'number' ? constant(t) : t);

/** A constant. */
export function constant(n: number): GridTerm {
  return { text: String(n), at: () => n };
}

/** A size variable such as `M`. */
export function dim(name: string): GridTerm {
  return {
    text: name,
    at: (v) => {
      const x = v[name];
      if (x === undefined) throw new RangeError(`grid: no value for ${name}`);
      return x;
    },
  };
}

/** Products, whose text needs parentheses as a divisor (`K/(a*8)`, not `K/a*8`). */
const products = new WeakSet<GridTerm>();

/** `ceil(a / b)`. */
export function ceilDiv(a: GridTerm | number, b: GridTerm | number): GridTerm {
  const [x, y] = [lift(a), lift(b)];
  const den = products.has(y) ? `(${y.text})` : y.text;
  return { text: `ceil(${x.text}/${den})`, at: (v) => Math.ceil(x.at(v) / y.at(v)) };
}

/** `a * b`. */
export function mul(a: GridTerm | number, b: GridTerm | number): GridTerm {
  const [x, y] = [lift(a), lift(b)];
  const t: GridTerm = { text: `${x.text}*${y.text}`, at: (v) => x.at(v) * y.at(v) };
  products.add(t);
  return t;
}

/** `min(a, b)`. */
export function min(a: GridTerm | number, b: GridTerm | number): GridTerm {
  const [x, y] = [lift(a), lift(b)];
  return { text: `min(${x.text}, ${y.text})`, at: (v) => Math.min(x.at(v), y.at(v)) };
}

export const M = dim('M');
export const N = dim('N');
export const K = dim('K');
/** The batch count of a batched shape (1 for 2-D). */
export const BATCH = dim('B');

/** A grid from three terms (numbers are constants). */
export function grid(x: GridTerm | number, y: GridTerm | number, z: GridTerm | number): Grid {
  return [lift(x), lift(y), lift(z)];
}

/** Workgroups of `g` at `vars`. */
export function gridSize(g: Grid, vars: GridVars): [number, number, number] {
  return [g[0].at(vars), g[1].at(vars), g[2].at(vars)];
}

/** The formula of `g`, e.g. `ceil(N/128), ceil(M/128), 1`. */
export function gridFormula(g: Grid): string {
  return g.map((t) => t.text).join(', ');
}
