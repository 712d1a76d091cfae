/** The `adapters` table: one row per distinct WebGPU adapter, shared by runs and tile databases. */
import type Database from 'better-sqlite3';
import type { AdapterDescriptor } from '../core/protocol.ts';

/** The columns of an `adapters` row joined into a query, plus the owner's `timestamp_query` flag. */
export interface AdapterColumns {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  backend: string;
  timestamp_query: number;
}

/** The id of the adapters row of `a`, inserted when missing. Call inside the caller's transaction. */
export function adapterId(db: Database.Database, a: AdapterDescriptor): number {
  db.prepare(
    `INSERT INTO adapters (vendor, architecture, device, description, backend) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  ).run(a.vendor, a.architecture, a.device, a.description, a.backend);
  return (
    db
      .prepare('SELECT id FROM adapters WHERE vendor = ? AND architecture = ? AND device = ? AND description = ? AND backend = ?')
      .get(a.vendor, a.architecture, a.device, a.description, a.backend) as { id: number }
  ).id;
}

/** The descriptor of a joined adapters row (`timestamp_query` is stored with the run or tile database). */
export function adapterFromRow(r: AdapterColumns): AdapterDescriptor {
  return {
    vendor: r.vendor,
    architecture: r.architecture,
    device: r.device,
    description: r.description,
    backend: r.backend,
    timestampQuery: r.timestamp_query === 1,
  };
}
