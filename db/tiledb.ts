/**
 * Repository functions for tile databases (schema v2: `tile_dbs`, `tile_points`) and the per-layer policy decisions
 * of a run (`layer_policy`). Small synchronous statements; every write is its own transaction, so a tune cancelled
 * or killed mid-way keeps every point recorded before it (resumable). Writes are IMMEDIATE transactions (see runs.ts).
 *
 * Units: ms for times, fractions 0–1 for sparsity and density. SQLite stores NaN as NULL; NULL times read back as
 * NaN (a failed configuration, +inf cost for the policy).
 */
import type Database from 'better-sqlite3';
import type { ComputeTile } from '../shaders/common.wgsl.ts';
import type { TileDbSnapshot, TilePoint } from '../core/pit/tiledb.ts';
import type { AdapterDescriptor, LayerResult, PolicyCandidate, TileDbListItem } from '../core/protocol.ts';
import { adapterFromRow, adapterId } from './adapters.ts';
import { guarded } from './errors.ts';

type Db = Database.Database;

const nowIso = (): string => new Date().toISOString();
const nan = (v: number | null): number => (v === null ? Number.NaN : v);
/** SQLite REAL columns refuse nothing but store NaN as NULL; an infinity would fail the >= 0 checks' intent. */
const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

/** `BMxBNxBK/TMxTN` (as shaders/common.wgsl.ts `tileName`, which db/ does not import at run time). */
function tileLabel(t: ComputeTile): string {
  return `${t.bm}x${t.bn}x${t.bk}/${t.tm}x${t.tn}`;
}

/**
 * A tile database without its points (the protocol's list item, less what only a host on an adapter can say), with
 * the families its points belong to (distinct, in no particular order): the schema has no dtype column, a database's
 * dtype is its hash's (core/pit/tiledb.ts `tileDbHash`) and, for display, its families' (`tileDbDtypeOf`).
 */
export type TileDbInfo = Omit<TileDbListItem, 'usable' | 'mismatch' | 'dtype'> & { families: string[] };

/**
 * The tile database of (adapter, kernel hash, tuner version), created when missing (a later tune resumes it).
 * @returns its id.
 * @throws DatabaseError when the database cannot be written.
 */
export function openTileDb(db: Db, key: { adapter: AdapterDescriptor; kernelHash: string; tunerVersion: number }): number {
  return guarded(db.name, 'opening the tile database', () =>
    db.transaction(() => {
      const aid = adapterId(db, key.adapter);
      const now = nowIso();
      db.prepare(
        `INSERT INTO tile_dbs (adapter_id, kernel_hash, tuner_version, timestamp_query, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ).run(aid, key.kernelHash, key.tunerVersion, key.adapter.timestampQuery ? 1 : 0, now, now);
      return (
        db.prepare('SELECT id FROM tile_dbs WHERE adapter_id = ? AND kernel_hash = ? AND tuner_version = ?').get(aid, key.kernelHash, key.tunerVersion) as {
          id: number;
        }
      ).id;
    }).immediate(),
  );
}

/** Keys of the points stored in a tile database. */
export function tilePointKeys(db: Db, tileDbId: number): Set<string> {
  return guarded(db.name, `reading tile database ${tileDbId}`, () =>
    new Set((db.prepare('SELECT point_key FROM tile_points WHERE tile_db_id = ?').all(tileDbId) as { point_key: string }[]).map((r) => r.point_key)),
  );
}

/**
 * Stores (or replaces) one point, in its own transaction, and touches the database's `updated_at`.
 * @param key the point's `pointKey`.
 * @throws DatabaseError when the database cannot be written; SqliteError (constraint) on an out-of-domain value.
 */
export function recordTilePoint(db: Db, tileDbId: number, key: string, p: TilePoint): void {
  guarded(db.name, `recording tile point ${key}`, () =>
    db.transaction(() => {
      const now = nowIso();
      db.prepare(
        `INSERT OR REPLACE INTO tile_points (tile_db_id, point_key, family, micro_tile, compute_tile, tile_json, m, n, k, sparsity,
           density, counts_json, kernel_ms, detect_ms, ok, max_abs_err, wgsl_hash, error, measured_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        tileDbId,
        key,
        p.family,
        p.microTile,
        tileLabel(p.tile),
        JSON.stringify(p.tile),
        p.m,
        p.n,
        p.k,
        p.sparsity,
        p.density,
        JSON.stringify(p.counts),
        finiteOrNull(p.kernelMs),
        finiteOrNull(p.detectMs),
        p.ok ? 1 : 0,
        finiteOrNull(p.maxAbsErr),
        p.wgslHash,
        p.error ?? null,
        now,
      );
      db.prepare('UPDATE tile_dbs SET updated_at = ? WHERE id = ?').run(now, tileDbId);
    }).immediate(),
  );
}

interface TileDbRow {
  id: number;
  kernel_hash: string;
  tuner_version: number;
  timestamp_query: number;
  created_at: string;
  updated_at: string;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  backend: string;
  points: number;
  failed: number;
  families: string | null;
}

const TILE_DB_SELECT = `
  SELECT t.id, t.kernel_hash, t.tuner_version, t.timestamp_query, t.created_at, t.updated_at,
         a.vendor, a.architecture, a.device, a.description, a.backend,
         (SELECT COUNT(*) FROM tile_points p WHERE p.tile_db_id = t.id) AS points,
         (SELECT COUNT(*) FROM tile_points p WHERE p.tile_db_id = t.id AND p.ok = 0) AS failed,
         (SELECT GROUP_CONCAT(f.family, ',') FROM (SELECT DISTINCT p.family FROM tile_points p WHERE p.tile_db_id = t.id) f) AS families
  FROM tile_dbs t JOIN adapters a ON a.id = t.adapter_id`;

function toInfo(r: TileDbRow): TileDbInfo {
  return {
    id: r.id,
    adapter: adapterFromRow(r),
    kernelHash: r.kernel_hash,
    tunerVersion: r.tuner_version,
    timestampQuery: r.timestamp_query === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    points: r.points,
    failed: r.failed,
    families: r.families ? r.families.split(',') : [],
  };
}

/** Every tile database, most recently updated first. */
export function listTileDbs(db: Db): TileDbInfo[] {
  return guarded(db.name, 'listing tile databases', () =>
    (db.prepare(`${TILE_DB_SELECT} ORDER BY t.updated_at DESC, t.id DESC`).all() as TileDbRow[]).map(toInfo),
  );
}

/**
 * Tile databases of one adapter (any kernel hash or tuner version), most recently updated first: the caller decides
 * which one matches (core/pit/tiledb.ts `tileDbMismatch`) and says why the others do not.
 */
export function tileDbsForAdapter(db: Db, a: AdapterDescriptor): TileDbInfo[] {
  return guarded(db.name, 'looking up tile databases', () =>
    (
      db
        .prepare(
          `${TILE_DB_SELECT} WHERE a.vendor = ? AND a.architecture = ? AND a.device = ? AND a.description = ? AND a.backend = ?
           ORDER BY t.updated_at DESC, t.id DESC`,
        )
        .all(a.vendor, a.architecture, a.device, a.description, a.backend) as TileDbRow[]
    ).map(toInfo),
  );
}

interface PointRow {
  family: TilePoint['family'];
  micro_tile: string | null;
  tile_json: string;
  m: number;
  n: number;
  k: number;
  sparsity: number;
  density: number;
  counts_json: string;
  kernel_ms: number | null;
  detect_ms: number | null;
  ok: number;
  max_abs_err: number | null;
  wgsl_hash: string;
  error: string | null;
}

/**
 * A tile database with all its points (in insertion order), or null when no database has this id.
 */
export function loadTileDb(db: Db, id: number): TileDbSnapshot | null {
  return guarded(db.name, `reading tile database ${id}`, () =>
    db.transaction(() => {
      const row = db.prepare(`${TILE_DB_SELECT} WHERE t.id = ?`).get(id) as TileDbRow | undefined;
      if (!row) return null;
      const info = toInfo(row);
      const points = (db.prepare('SELECT * FROM tile_points WHERE tile_db_id = ? ORDER BY rowid').all(id) as PointRow[]).map((r) => {
        const p: TilePoint = {
          family: r.family,
          microTile: r.micro_tile,
          tile: JSON.parse(r.tile_json) as ComputeTile,
          m: r.m,
          n: r.n,
          k: r.k,
          sparsity: r.sparsity,
          density: r.density,
          counts: JSON.parse(r.counts_json) as number[],
          kernelMs: nan(r.kernel_ms),
          detectMs: nan(r.detect_ms),
          ok: r.ok === 1,
          maxAbsErr: nan(r.max_abs_err),
          wgslHash: r.wgsl_hash,
        };
        if (r.error !== null) p.error = r.error;
        return p;
      });
      return {
        id: info.id,
        adapter: info.adapter,
        kernelHash: info.kernelHash,
        tunerVersion: info.tunerVersion,
        createdAt: info.createdAt,
        updatedAt: info.updatedAt,
        timestampQuery: info.timestampQuery,
        points,
      };
    })(),
  );
}

/** Deletes a tile database and its points; returns whether one was deleted. */
export function deleteTileDb(db: Db, id: number): boolean {
  return guarded(db.name, `deleting tile database ${id}`, () => db.transaction(() => db.prepare('DELETE FROM tile_dbs WHERE id = ?').run(id).changes > 0).immediate());
}

/**
 * Stores a layer's policy decision (called inside recordLayer's transaction). Does nothing for a layer without a
 * prediction (policy `measure`).
 */
export function insertLayerPolicy(db: Db, layerId: number, layer: LayerResult): void {
  if (!layer.predicted) return;
  db.prepare(
    'INSERT INTO layer_policy (layer_id, predicted_variant, predicted_ms, candidates_json, regret, reason) VALUES (?, ?, ?, ?, ?, ?)',
  ).run(
    layerId,
    layer.predicted.variant,
    finiteOrNull(layer.predicted.ms),
    JSON.stringify(layer.candidates ?? []),
    layer.regret === undefined ? null : finiteOrNull(layer.regret),
    layer.reason ?? '',
  );
}

/** A stored policy decision, as LayerResult fields. */
export type LayerPolicyFields = Required<Pick<LayerResult, 'predicted' | 'candidates' | 'reason'>> & Pick<LayerResult, 'regret'>;

/** Policy decisions of a run's layers, by layer row id (read inside getRunReport's transaction). */
export function layerPolicies(db: Db, runId: number): Map<number, LayerPolicyFields> {
  const rows = db
    .prepare(
      `SELECT p.* FROM layer_policy p JOIN layers l ON l.id = p.layer_id WHERE l.run_id = ?`,
    )
    .all(runId) as { layer_id: number; predicted_variant: string; predicted_ms: number | null; candidates_json: string; regret: number | null; reason: string }[];
  return new Map(
    rows.map((r) => {
      const f: LayerPolicyFields = {
        predicted: { variant: r.predicted_variant, ms: nan(r.predicted_ms) },
        candidates: (JSON.parse(r.candidates_json) as PolicyCandidate[]).map((c) => ({ ...c, ms: c.ms ?? Number.NaN })),
        reason: r.reason,
      };
      if (r.regret !== null) f.regret = r.regret;
      return [r.layer_id, f];
    }),
  );
}
