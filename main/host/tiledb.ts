/**
 * The tile database as the host serves it (`tiledb.*` methods): the tuning plans offered and how a request
 * restricts one, stored points and databases in their wire form. Tuning itself is core/pit/tuner.ts, run by the
 * HostService exactly as `pit tune` (main/commands/tune.ts) runs it.
 */
import { configId } from '../../core/pit/rules.ts';
import { tileDbDtypeOf, tileDbHash, tileDbMismatch, TileModel, type TilePoint } from '../../core/pit/tiledb.ts';
import { fullPlan, planPoints, quickPlan, type TunePlan } from '../../core/pit/tuner.ts';
import type { AdapterDescriptor, ComputeDtype, TileConfigFit, TileDbListItem, TileDbPointInfo, TunePlanInfo, TuneRequest } from '../../core/protocol.ts';
import type { TileDbInfo } from '../../db/tiledb.ts';
import { tileName } from '../../shaders/common.wgsl.ts';
import { RpcError } from './rpc.ts';

/** `MxNxK` of a problem size. */
export function sizeLabel(s: { m: number; n: number; k: number }): string {
  return `${s.m}x${s.n}x${s.k}`;
}

/** What a client sees of a plan: its sizes, sparsities, configurations and number of legal points. */
export function planInfo(plan: TunePlan): TunePlanInfo {
  return {
    name: plan.name === 'quick' ? 'quick' : 'full',
    sizes: plan.sizes.map(sizeLabel),
    sparsities: [...plan.sparsities],
    configs: plan.configs.map((c) => ({ id: configId(c), family: c.family, microTile: c.microTile, computeTile: tileName(c.tile) })),
    points: planPoints(plan).length,
  };
}

/** The plans `tiledb.tune` offers, quick first. */
export function tunePlans(): TunePlanInfo[] {
  return [planInfo(quickPlan()), planInfo(fullPlan())];
}

/**
 * The plan a request asks for: quick or full, restricted to the sizes, sparsities and configurations named (each
 * must belong to the plan, so the points measured are the plan's own and a later unrestricted tune resumes them).
 * @throws RpcError `invalid-params` naming what is not in the plan, or an empty restriction.
 */
export function planFor(req: TuneRequest): TunePlan {
  const base = req.quick ? quickPlan() : fullPlan();
  const pick = <T>(what: string, wanted: readonly (string | number)[] | undefined, all: T[], key: (t: T) => string | number): T[] => {
    if (wanted === undefined) return all;
    if (!wanted.length) throw new RpcError('invalid-params', `tiledb.tune: '${what}' is empty (omit it to tune every one of the plan)`);
    const known = all.map(key);
    for (const w of wanted) {
      if (!known.includes(w)) {
        throw new RpcError('invalid-params', `tiledb.tune: ${what} ${JSON.stringify(w)} is not in the ${base.name} plan (known: ${known.join(', ')})`);
      }
    }
    return all.filter((t) => wanted.includes(key(t)));
  };
  return {
    ...base,
    sizes: pick('sizes', req.sizes, base.sizes, sizeLabel),
    sparsities: pick('sparsities', req.sparsities, base.sparsities, (s) => s),
    configs: pick('configs', req.configs, base.configs, configId),
  };
}

/** A stored point as the charts use it (no per-block counts; NaN times as null, which is what JSON makes of them). */
export function pointInfo(p: TilePoint): TileDbPointInfo {
  const finite = (x: number) => (Number.isFinite(x) ? x : null);
  const out: TileDbPointInfo = {
    config: configId(p),
    family: p.family,
    microTile: p.microTile,
    computeTile: tileName(p.tile),
    m: p.m,
    n: p.n,
    k: p.k,
    sparsity: p.sparsity,
    density: p.density,
    kernelMs: finite(p.kernelMs),
    detectMs: finite(p.detectMs),
    ok: p.ok,
  };
  if (p.error) out.error = p.error;
  return out;
}

/**
 * The cost model fitted to a database's points (core/pit/tiledb.ts `TileModel`, what the policy predicts with), as
 * `pit tune` summarises it: per configuration, points used and median relative error of the kernel and detection
 * models.
 */
export function modelFits(points: readonly TilePoint[]): { fits: TileConfigFit[]; parallelism: number | null } {
  if (!points.some((p) => p.ok)) return { fits: [], parallelism: null };
  const model = new TileModel(points);
  const fits: TileConfigFit[] = [];
  const seen = new Set<string>();
  for (const p of points) {
    const id = configId(p);
    if (seen.has(id)) continue;
    seen.add(id);
    const km = model.kernelModel(p);
    if (!km) continue;
    const dm = model.detectModel(p);
    fits.push({ config: id, points: km.points, medianRelErr: km.medianRelErr, detectMedianRelErr: dm ? dm.medianRelErr : null });
  }
  return { fits, parallelism: model.parallelism };
}

/**
 * A stored database as listed, with its dtype and whether a profile of that dtype on `adapter` may use it with the
 * current kernels (and why not). Without an adapter (no GPU) nothing is usable. The dtype is that of its points'
 * families (`tileDbDtypeOf`), or of the hash it carries for a database without points.
 */
export function listItem(t: TileDbInfo, adapter: AdapterDescriptor | null): TileDbListItem {
  const dtype: ComputeDtype = t.families.length ? tileDbDtypeOf(t.families) : t.kernelHash === tileDbHash('f16', adapter ?? undefined) ? 'f16' : 'f32';
  const kernelHash = tileDbHash(dtype, adapter ?? undefined);
  const mismatch = adapter ? (tileDbMismatch(t, adapter, kernelHash) ?? (t.points > 0 ? null : 'it has no points')) : 'no WebGPU adapter to use it on';
  const item: TileDbListItem = {
    id: t.id,
    adapter: t.adapter,
    dtype,
    kernelHash: t.kernelHash,
    tunerVersion: t.tunerVersion,
    timestampQuery: t.timestampQuery,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
    points: t.points,
    failed: t.failed,
    usable: mismatch === null,
  };
  if (mismatch !== null) item.mismatch = mismatch;
  return item;
}
