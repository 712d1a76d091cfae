/**
 * The schema of the run database as an ordered list of numbered migrations. `PRAGMA user_version` holds the number
 * of the last one applied; `openDatabase` applies the rest, each in its own transaction. Kept in TypeScript rather
 * than a `.sql` file so the host bundles to one ES module with no files to locate at run time.
 *
 * Rules for whoever adds migration N+1: never edit a migration that has shipped (databases in the field already ran
 * it); append a new one. `foreign_keys` cannot be switched inside a transaction, so a migration that rebuilds a
 * table must keep every foreign key satisfied by itself (create-copy-drop-rename in dependency order).
 *
 * Conventions of the schema:
 * - Tables are STRICT, so a float where an integer belongs (or a string where a number belongs) is refused
 *   instead of silently stored.
 * - Times are milliseconds (REAL). SQLite stores NaN as NULL, so a nullable time or error column means "NaN"
 *   (e.g. a variant that failed to build); the repository maps NULL back to NaN.
 * - Fractions (sparsity, density, heat-map cells) are 0–1.
 * - Every measurement row says what ran (variant, micro-tile, computation tile, the WGSL by sha256), on what
 *   (the run's adapter and input) and how it was timed (the run's repeat count and timing method).
 */

/** One schema step: `version` is the `user_version` after it ran. */
export interface Migration {
  version: number;
  /** Human-readable purpose, shown in errors. */
  description: string;
  /** SQL run as one script inside the migration's transaction. */
  sql: string;
}

const v1 = /* sql */ `
-- GPUs as WebGPU reports them. Identity is what the driver says; timing capabilities live on runs because they
-- depend on the features a device was created with, not on the hardware.
CREATE TABLE adapters (
  id            INTEGER PRIMARY KEY,
  vendor        TEXT NOT NULL,
  architecture  TEXT NOT NULL,
  device        TEXT NOT NULL,
  description   TEXT NOT NULL,
  backend       TEXT NOT NULL,
  UNIQUE (vendor, architecture, device, description, backend)
) STRICT;

-- Model files by content and location: the same bytes at two paths are two rows, so a report shows the path
-- the user chose; the hash says whether two runs profiled the same model.
CREATE TABLE models (
  id      INTEGER PRIMARY KEY,
  path    TEXT NOT NULL,
  sha256  TEXT NOT NULL,
  UNIQUE (sha256, path)
) STRICT;

-- AUTOINCREMENT so a deleted run's id is never handed to a new run (a UI or script holding "run 5" must not
-- silently get another run).
CREATE TABLE runs (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,
  model_id          INTEGER NOT NULL REFERENCES models (id),
  adapter_id        INTEGER NOT NULL REFERENCES adapters (id),
  -- ISO 8601 UTC with milliseconds: sorts as text.
  created_at        TEXT NOT NULL,
  status            TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'complete', 'incomplete')),
  -- Why the run is incomplete ('cancelled', 'interrupted', an error line); empty otherwise.
  status_message    TEXT NOT NULL DEFAULT '',
  finished_at       TEXT,
  -- 1 when kernel times come from timestamp queries, 0 when from the CPU clock around queue submission.
  timestamp_query   INTEGER NOT NULL CHECK (timestamp_query IN (0, 1)),
  variants_json     TEXT NOT NULL CHECK (json_valid(variants_json) AND json_type(variants_json) = 'array'),
  repeat            INTEGER NOT NULL CHECK (repeat >= 1),
  -- Everything else the job was asked (warmup, image size, max layers…), as given.
  options_json      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(options_json) AND json_type(options_json) = 'object'),
  -- The process writing the run, to tell a run in progress from one whose writer died (see markAbandonedRuns).
  writer_host       TEXT NOT NULL,
  writer_pid        INTEGER NOT NULL,
  writer_started_at INTEGER NOT NULL
) STRICT;
CREATE INDEX runs_created_at ON runs (created_at);
CREATE INDEX runs_status ON runs (status) WHERE status = 'running';

CREATE TABLE inputs (
  run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  position    INTEGER NOT NULL CHECK (position >= 0),
  path        TEXT NOT NULL,
  kind        TEXT NOT NULL CHECK (kind IN ('image', 'npy')),
  shape_json  TEXT NOT NULL CHECK (json_valid(shape_json) AND json_type(shape_json) = 'array'),
  preprocess  TEXT NOT NULL,
  synthetic   INTEGER NOT NULL CHECK (synthetic IN (0, 1)),
  PRIMARY KEY (run_id, position)
) STRICT;

-- One profiled (or skipped) layer on one input. sparsity NULL = NaN (not measured).
CREATE TABLE layers (
  id              INTEGER PRIMARY KEY,
  run_id          INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  input_position  INTEGER NOT NULL,
  layer_index     INTEGER NOT NULL CHECK (layer_index >= 0),
  name            TEXT NOT NULL,
  op              TEXT NOT NULL,
  m               INTEGER NOT NULL CHECK (m >= 0),
  n               INTEGER NOT NULL CHECK (n >= 0),
  k               INTEGER NOT NULL CHECK (k >= 0),
  sparsity        REAL CHECK (sparsity BETWEEN 0 AND 1),
  chosen          TEXT NOT NULL CHECK (chosen <> ''),
  -- Why the layer was not profiled; NULL when it was.
  skipped         TEXT,
  recorded_at     TEXT NOT NULL,
  UNIQUE (run_id, input_position, layer_index),
  FOREIGN KEY (run_id, input_position) REFERENCES inputs (run_id, position) ON DELETE CASCADE
) STRICT;

-- Occupancy of the exploited operand, downsampled: values are float64 little-endian, row-major, rows x cols.
-- A blob, not JSON: exact, about half the size, and no number parsing for a 128x128 map.
CREATE TABLE heatmaps (
  layer_id  INTEGER PRIMARY KEY REFERENCES layers (id) ON DELETE CASCADE,
  rows      INTEGER NOT NULL CHECK (rows >= 0),
  cols      INTEGER NOT NULL CHECK (cols >= 0),
  cell_m    INTEGER NOT NULL CHECK (cell_m >= 1),
  cell_k    INTEGER NOT NULL CHECK (cell_k >= 1),
  cell_values BLOB NOT NULL CHECK (length(cell_values) = rows * cols * 8)
) STRICT;

-- Effective density per micro-tile shape; position keeps the order the profiler reported.
CREATE TABLE micro_tiles (
  layer_id  INTEGER NOT NULL REFERENCES layers (id) ON DELETE CASCADE,
  position  INTEGER NOT NULL,
  shape     TEXT NOT NULL CHECK (shape <> ''),
  density   REAL NOT NULL CHECK (density BETWEEN 0 AND 1),
  PRIMARY KEY (layer_id, position),
  UNIQUE (layer_id, shape)
) STRICT;

-- Generated WGSL, stored once however many measurements ran it. Not deleted with runs (see pruneKernels).
CREATE TABLE kernels (
  sha256  TEXT PRIMARY KEY CHECK (length(sha256) = 64),
  label   TEXT NOT NULL,
  wgsl    TEXT NOT NULL
) STRICT;

-- One variant on one layer. ms, detect_ms, max_abs_err, max_rel_err NULL = NaN (the variant failed).
-- Variant names are unique per layer because layers.chosen refers to one by name.
CREATE TABLE measurements (
  id           INTEGER PRIMARY KEY,
  layer_id     INTEGER NOT NULL REFERENCES layers (id) ON DELETE CASCADE,
  position     INTEGER NOT NULL,
  variant      TEXT NOT NULL CHECK (variant <> ''),
  micro_tile   TEXT,
  compute_tile TEXT NOT NULL,
  ms           REAL CHECK (ms >= 0),
  detect_ms    REAL CHECK (detect_ms >= 0),
  max_abs_err  REAL CHECK (max_abs_err >= 0),
  max_rel_err  REAL CHECK (max_rel_err >= 0),
  ok           INTEGER NOT NULL CHECK (ok IN (0, 1)),
  error        TEXT,
  -- The main kernel; NULL when the variant failed before any WGSL existed.
  wgsl_hash    TEXT REFERENCES kernels (sha256),
  UNIQUE (layer_id, position),
  UNIQUE (layer_id, variant)
) STRICT;
CREATE INDEX measurements_wgsl_hash ON measurements (wgsl_hash);

-- Every kernel a variant dispatched (detection, gather, main, scatter…), in dispatch order.
CREATE TABLE measurement_kernels (
  measurement_id  INTEGER NOT NULL REFERENCES measurements (id) ON DELETE CASCADE,
  position        INTEGER NOT NULL,
  kernel_sha256   TEXT NOT NULL REFERENCES kernels (sha256),
  PRIMARY KEY (measurement_id, position)
) STRICT;
CREATE INDEX measurement_kernels_kernel ON measurement_kernels (kernel_sha256);

-- What each layer contributes to a run's totals (RunTotals). Only layers that were profiled and have a dense
-- time count: without the dense baseline there is nothing to compare the chosen variant against. A chosen
-- variant without a time falls back to dense; ideal = dense x the best (lowest) micro-tile density, or dense when
-- no density was measured.
CREATE VIEW layer_costs AS
SELECT
  l.id      AS layer_id,
  l.run_id  AS run_id,
  d.ms      AS dense_ms,
  COALESCE(c.ms + COALESCE(c.detect_ms, 0.0), d.ms) AS chosen_ms,
  CASE WHEN c.ms IS NULL THEN 0.0 ELSE COALESCE(c.detect_ms, 0.0) END AS detect_ms,
  d.ms * COALESCE((SELECT MIN(mt.density) FROM micro_tiles mt WHERE mt.layer_id = l.id AND mt.shape <> '1x1'), 1.0) AS ideal_ms
FROM layers l
JOIN measurements d ON d.layer_id = l.id AND d.variant = 'dense' AND d.ms IS NOT NULL
LEFT JOIN measurements c ON c.layer_id = l.id AND c.variant = l.chosen
WHERE l.skipped IS NULL;
`;

const v2 = /* sql */ `
-- Tile databases (pit tune): measured kernel costs on one adapter with one version of the kernel sources. The key
-- is everything a measurement depends on: the adapter, the sha256 of the kernels' WGSL (kernel_hash) and the
-- tuner's method (tuner_version). A database with another key is never used in place of this one.
CREATE TABLE tile_dbs (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  adapter_id       INTEGER NOT NULL REFERENCES adapters (id),
  kernel_hash      TEXT NOT NULL CHECK (length(kernel_hash) = 64),
  tuner_version    INTEGER NOT NULL CHECK (tuner_version >= 1),
  -- 1 when times come from timestamp queries, 0 from the CPU clock.
  timestamp_query  INTEGER NOT NULL CHECK (timestamp_query IN (0, 1)),
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL,
  UNIQUE (adapter_id, kernel_hash, tuner_version)
) STRICT;

-- One measured point: a configuration (family, micro-tile, computation tile) at a problem size and a target
-- sparsity. kernel_ms / detect_ms NULL = the configuration failed there (build, run or verification): it costs
-- +inf and the cost model leaves it out; error says why. counts_json: non-zero micro-tiles per block as the
-- kernel saw them (pit-k per row block, pit-m per k-chunk; [] for dense).
CREATE TABLE tile_points (
  tile_db_id    INTEGER NOT NULL REFERENCES tile_dbs (id) ON DELETE CASCADE,
  point_key     TEXT NOT NULL CHECK (point_key <> ''),
  family        TEXT NOT NULL CHECK (family IN ('dense', 'pit-k', 'pit-m')),
  micro_tile    TEXT,
  compute_tile  TEXT NOT NULL,
  tile_json     TEXT NOT NULL CHECK (json_valid(tile_json) AND json_type(tile_json) = 'object'),
  m             INTEGER NOT NULL CHECK (m >= 1),
  n             INTEGER NOT NULL CHECK (n >= 1),
  k             INTEGER NOT NULL CHECK (k >= 1),
  sparsity      REAL NOT NULL CHECK (sparsity BETWEEN 0 AND 1),
  density       REAL NOT NULL CHECK (density BETWEEN 0 AND 1),
  counts_json   TEXT NOT NULL CHECK (json_valid(counts_json) AND json_type(counts_json) = 'array'),
  kernel_ms     REAL CHECK (kernel_ms >= 0),
  detect_ms     REAL CHECK (detect_ms >= 0),
  ok            INTEGER NOT NULL CHECK (ok IN (0, 1)),
  max_abs_err   REAL CHECK (max_abs_err >= 0),
  wgsl_hash     TEXT NOT NULL,
  error         TEXT,
  measured_at   TEXT NOT NULL,
  PRIMARY KEY (tile_db_id, point_key)
) STRICT;

-- The transformation policy's decision for a layer (policy tiledb): the predicted variant and cost, every
-- candidate considered with its prediction (JSON array of PolicyCandidate), the regret when every candidate was
-- measured (NULL otherwise), and a one-line reason.
CREATE TABLE layer_policy (
  layer_id           INTEGER PRIMARY KEY REFERENCES layers (id) ON DELETE CASCADE,
  predicted_variant  TEXT NOT NULL CHECK (predicted_variant <> ''),
  predicted_ms       REAL CHECK (predicted_ms >= 0),
  candidates_json    TEXT NOT NULL CHECK (json_valid(candidates_json) AND json_type(candidates_json) = 'array'),
  regret             REAL CHECK (regret >= 0),
  reason             TEXT NOT NULL DEFAULT ''
) STRICT;
`;

const v3 = /* sql */ `
-- Kernel families are data (core/kernels/registry.ts): the set of families is no longer spelled out in a CHECK.
CREATE TABLE tile_points_v3 (
  tile_db_id    INTEGER NOT NULL REFERENCES tile_dbs (id) ON DELETE CASCADE,
  point_key     TEXT NOT NULL CHECK (point_key <> ''),
  family        TEXT NOT NULL CHECK (family <> ''),
  micro_tile    TEXT,
  compute_tile  TEXT NOT NULL,
  tile_json     TEXT NOT NULL CHECK (json_valid(tile_json) AND json_type(tile_json) = 'object'),
  m             INTEGER NOT NULL CHECK (m >= 1),
  n             INTEGER NOT NULL CHECK (n >= 1),
  k             INTEGER NOT NULL CHECK (k >= 1),
  sparsity      REAL NOT NULL CHECK (sparsity BETWEEN 0 AND 1),
  density       REAL NOT NULL CHECK (density BETWEEN 0 AND 1),
  counts_json   TEXT NOT NULL CHECK (json_valid(counts_json) AND json_type(counts_json) = 'array'),
  kernel_ms     REAL CHECK (kernel_ms >= 0),
  detect_ms     REAL CHECK (detect_ms >= 0),
  ok            INTEGER NOT NULL CHECK (ok IN (0, 1)),
  max_abs_err   REAL CHECK (max_abs_err >= 0),
  wgsl_hash     TEXT NOT NULL,
  error         TEXT,
  measured_at   TEXT NOT NULL,
  PRIMARY KEY (tile_db_id, point_key)
) STRICT;
INSERT INTO tile_points_v3 SELECT * FROM tile_points;
DROP TABLE tile_points;
ALTER TABLE tile_points_v3 RENAME TO tile_points;

-- The dense baseline and the attribution of a layer's choice. baseline: the fastest verified dense tile (variant
-- name); default_dense: the default tile (its time / the baseline's is the dense-tile-choice gain); ideal_density:
-- the lowest effective density among the rules measured. attribution_json: { denseTileGain, pitGain,
-- effectiveDensity, undecided?, noiseBand?, decision } (LayerResult). NULL/{} for layers recorded before v3.
ALTER TABLE layers ADD COLUMN baseline TEXT;
ALTER TABLE layers ADD COLUMN default_dense TEXT;
ALTER TABLE layers ADD COLUMN ideal_density REAL CHECK (ideal_density BETWEEN 0 AND 1);
ALTER TABLE layers ADD COLUMN attribution_json TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(attribution_json) AND json_type(attribution_json) = 'object');

-- Work-weighted density: elements under non-zero micro-tiles / all elements (partial edge tiles by area).
ALTER TABLE micro_tiles ADD COLUMN effective_density REAL CHECK (effective_density BETWEEN 0 AND 1);

-- Every measurement says what it is: the statistic (median of per-sample totals), its spread, the number of samples,
-- the method (timestamp queries or CPU clock), and keeps every sample (float64 little-endian, in the order taken).
-- ms / detect_ms / layout_ms are the phases of the median sample; total_ms their sum. suspect: why a speed-up was
-- not trusted (NULL when it was).
ALTER TABLE measurements ADD COLUMN family TEXT;
ALTER TABLE measurements ADD COLUMN layout_ms REAL CHECK (layout_ms >= 0);
ALTER TABLE measurements ADD COLUMN total_ms REAL CHECK (total_ms >= 0);
ALTER TABLE measurements ADD COLUMN min_ms REAL CHECK (min_ms >= 0);
ALTER TABLE measurements ADD COLUMN max_ms REAL CHECK (max_ms >= 0);
ALTER TABLE measurements ADD COLUMN q1_ms REAL CHECK (q1_ms >= 0);
ALTER TABLE measurements ADD COLUMN q3_ms REAL CHECK (q3_ms >= 0);
ALTER TABLE measurements ADD COLUMN repeats INTEGER CHECK (repeats >= 0);
ALTER TABLE measurements ADD COLUMN method TEXT CHECK (method IN ('timestamp', 'cpu'));
ALTER TABLE measurements ADD COLUMN statistic TEXT CHECK (statistic IN ('median'));
ALTER TABLE measurements ADD COLUMN samples BLOB CHECK (samples IS NULL OR length(samples) % 8 = 0);
ALTER TABLE measurements ADD COLUMN effective_density REAL CHECK (effective_density BETWEEN 0 AND 1);
ALTER TABLE measurements ADD COLUMN suspect TEXT;

-- Totals per layer against the dense baseline (fastest dense tile), not the default tile. Layers recorded before v3
-- have neither column: their 'dense' measurement is both, and ideal is the lowest micro-tile density as before.
DROP VIEW layer_costs;
CREATE VIEW layer_costs AS
SELECT
  l.id      AS layer_id,
  l.run_id  AS run_id,
  COALESCE(b.total_ms, b.ms + COALESCE(b.detect_ms, 0.0)) AS dense_ms,
  COALESCE(dd.total_ms, dd.ms, b.total_ms, b.ms) AS default_dense_ms,
  COALESCE(c.total_ms, c.ms + COALESCE(c.detect_ms, 0.0) + COALESCE(c.layout_ms, 0.0), b.total_ms, b.ms) AS chosen_ms,
  CASE WHEN c.ms IS NULL THEN 0.0 ELSE COALESCE(c.detect_ms, 0.0) END AS detect_ms,
  CASE WHEN c.ms IS NULL THEN 0.0 ELSE COALESCE(c.layout_ms, 0.0) END AS layout_ms,
  COALESCE(b.total_ms, b.ms) * COALESCE(
    l.ideal_density,
    (SELECT MIN(mt.density) FROM micro_tiles mt WHERE mt.layer_id = l.id AND mt.shape <> '1x1'),
    1.0) AS ideal_ms
FROM layers l
JOIN measurements b ON b.layer_id = l.id AND b.variant = COALESCE(l.baseline, 'dense') AND b.ms IS NOT NULL
LEFT JOIN measurements dd ON dd.layer_id = l.id AND dd.variant = COALESCE(l.default_dense, 'dense') AND dd.ms IS NOT NULL
LEFT JOIN measurements c ON c.layer_id = l.id AND c.variant = l.chosen AND c.ms IS NOT NULL
WHERE l.skipped IS NULL;
`;

const v4 = /* sql */ `
-- The timeline of a run (issue 13): the reference model's own time per input (onnxruntime on the CPU, the whole model
-- with the profiled layers' tensors captured), and per layer the readback of the chosen variant's output (copy and map
-- of C [M, N] after its verification run, CPU clock). NULL for runs recorded before v4.
ALTER TABLE inputs ADD COLUMN reference_ms REAL CHECK (reference_ms >= 0);
ALTER TABLE layers ADD COLUMN readback_ms REAL CHECK (readback_ms >= 0);
`;

const v5 = /* sql */ `
-- Static weight-pattern families (tile-wise, nm, hinm, bcsr-w) build their index from the weight on the CPU once per
-- model: its cost, ms, is stored apart from the kernel time (NULL for families that detect online or need no index).
ALTER TABLE measurements ADD COLUMN index_ms REAL CHECK (index_ms >= 0);
`;

/** All migrations, in order; `MIGRATIONS[i].version === i + 1`. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, description: 'runs, layers, micro-tiles, measurements, kernels', sql: v1 },
  { version: 2, description: 'tile databases, tile points, per-layer policy decisions', sql: v2 },
  { version: 3, description: 'families as data, dense baselines, attribution, measurement statistics and samples', sql: v3 },
  { version: 4, description: 'timeline: reference-run time per input, readback time per layer', sql: v4 },
  { version: 5, description: 'static weight-pattern index build time per measurement', sql: v5 },
];

/** The schema version this code writes and reads (`PRAGMA user_version` after all migrations). */
export const SCHEMA_VERSION = MIGRATIONS.length;
