/**
 * Dispatch grids as data (core/kernels/grid.ts): every program's grid must cover the work it is given, and the formula
 * a manifest prints must evaluate to the workgroups dispatched. The coverage is checked from each family's tile
 * geometry, written here from the kernels' definitions, not from the grid expressions under test.
 */
import { describe, expect, it } from 'vitest';
import { FAMILIES } from '../../core/kernels/registry.ts';
import { planVariant } from '../../core/kernels/variants.ts';
import { detectWindow } from '../../shaders/detect.wgsl.ts';

/** Evaluates a printed formula (`ceil(N/128)`, `min(a, 65535)`, `M*N`) at M, N, K — an evaluator independent of grid.ts. */
function evaluate(formula: string, vars: Record<string, number>): number {
  const js = formula.replace(/\b([MNK])\b/g, (v) => String(vars[v])).replace(/ceil\(/g, 'Math.ceil(').replace(/min\(/g, 'Math.min(');
  if (!/^[\d\s+*/().,Mathceilmn]+$/.test(js)) throw new Error(`unexpected formula ${formula}`);
  return Function(`return (${js});`)() as number;
}

const SHAPES = [
  { m: 1, n: 24, k: 96 },
  { m: 37, n: 53, k: 71 },
  { m: 256, n: 128, k: 384 },
  { m: 4480, n: 24, k: 864 },
  { m: 70000, n: 16, k: 27 },
];

describe('dispatch grids', () => {
  for (const family of FAMILIES) {
    it(`${family.name}: every program's formula evaluates to its workgroups, and the grids cover the work`, () => {
      let checked = 0;
      for (const s of SHAPES) {
        const configs = [...family.tuningConfigs(), ...family.layerConfigs(s)];
        for (const c of configs) {
          if (family.illegalReason(c, s)) continue;
          // Families whose plans need layer facts or a patterned weight are covered by their own tests.
          if (family.needs?.length || family.sparseOperand === 'b') continue;
          const plan = planVariant(s, c, ['a']);
          for (const p of [...plan.layout, ...plan.detect, ...plan.compute]) {
            const parts = p.dispatchFormula.split(/,(?![^(]*\))/).map((t) => t.trim());
            expect(parts, p.label).toHaveLength(3);
            expect(parts.map((t) => evaluate(t, { M: s.m, N: s.n, K: s.k })), `${p.label} at ${s.m}x${s.n}x${s.k}`).toEqual(p.workgroups);
            const total = p.workgroups[0] * p.workgroups[1] * p.workgroups[2];
            if (p.family === family.name) {
              // The main kernel: one workgroup per BM x BN output tile (pit-m: per row tile and k-chunk; its
              // accumulating vec4 kernel walks up to 8 row tiles per workgroup).
              const tiles = Math.ceil(s.m / c.tile.bm) * Math.ceil(s.n / c.tile.bn);
              expect(total * 8, p.label).toBeGreaterThanOrEqual(tiles);
              expect(p.workgroups[0] * p.workgroups[1] * 8, p.label).toBeGreaterThanOrEqual(tiles);
            } else if (p.family.startsWith('detect')) {
              // Detection: every element of A is in some workgroup's window.
              const [r, cols] = p.family === 'detect-k' ? [s.k, s.m] : [s.m, s.k];
              // The micro-tile it indexes: `Hx1` of A is a width-H segment of Aᵀ's rows (detect-k), `1xW` of A width W.
              const [h, w] = plan.counts!.microTile.split('x').map(Number) as [number, number];
              const win = p.family === 'detect-k' ? detectWindow(h, w) : detectWindow(w, h);
              expect(total * win.rows * win.span, p.label).toBeGreaterThanOrEqual(r * cols);
            } else if (p.family === 'transpose') {
              expect(total * 256, p.label).toBeGreaterThanOrEqual(s.m * s.k);
            }
            for (const d of p.workgroups) expect(d, p.label).toBeLessThanOrEqual(65535);
            checked++;
          }
        }
      }
      // Every family that plans 2-D configurations on its own had programs checked (direct and pit-n apply only to
      // batched or B-activation layers: test/kernels/batched.test.ts checks theirs).
      const own = SHAPES.some((s) => [...family.tuningConfigs(), ...family.layerConfigs(s)].some((c) => !family.illegalReason(c, s)));
      if (own && !family.needs?.length && family.sparseOperand !== 'b') expect(checked).toBeGreaterThan(0);
    });
  }
});
