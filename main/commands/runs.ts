/** `pit runs`: list stored runs. */
import { parseArgs } from 'node:util';
import { DatabaseError } from '../../db/errors.ts';
import { listRuns } from '../../db/runs.ts';
import { DB_HELP, openDb, type Command } from './common.ts';

/** Widest reason shown in the status column, characters (`pit show RUN` prints it whole). */
const STATUS_COLUMN = 60;

const clip = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max - 1).trimEnd()}…` : s);

export const runsCommand: Command = {
  name: 'runs',
  summary: 'list stored runs',
  help: `Usage: pit runs [--db FILE] [--json]

Lists the runs in the database, newest first: id, date, status, model, adapter, layers and total times. A run
with layer-runs that have no verified figures (no dense variant verified) says how many failed; the totals leave
them out (\`pit show RUN\` lists them with their reason). The database is opened read-only. A long reason for an incomplete run is cut to ${STATUS_COLUMN} characters here; \`pit show RUN\`
prints it whole.

Options:
${DB_HELP}
  --json              print the list as JSON
  -h, --help          show this help`,
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { db: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
    if (values.help) return console.log(this.help), 0;
    let opened;
    try {
      opened = openDb(values.db, 'read');
    } catch (e) {
      // Nothing profiled yet (the database does not exist): an empty list, not an error.
      if (e instanceof DatabaseError && e.code === 'PIT_NO_DATABASE') {
        if (values.json) console.log('[]');
        else console.log(`no runs: ${e.message.replace(/ \(pit profile.*\)$/, '')} (profile one: pit profile --model FILE.onnx --input FILE)`);
        return 0;
      }
      throw e;
    }
    const { db, path } = opened;
    try {
      const runs = listRuns(db);
      if (values.json) {
        console.log(JSON.stringify(runs, null, 2));
        return 0;
      }
      if (!runs.length) {
        console.log(`no runs in ${path} (profile one: pit profile --model FILE.onnx --input FILE)`);
        return 0;
      }
      const rows = runs.map((r) => [
        String(r.id),
        r.createdAt.replace('T', ' ').slice(0, 19),
        (r.complete ? 'complete' : `incomplete (${clip(r.status, STATUS_COLUMN)})`) + (r.totals.failedLayers ? `, ${r.totals.failedLayers} failed` : ''),
        r.model.path.split('/').pop() ?? r.model.path,
        r.adapter.description || r.adapter.device || r.adapter.vendor || '?',
        String(r.layerCount),
        `${r.totals.denseMs.toFixed(2)} → ${r.totals.chosenMs.toFixed(2)} ms`,
      ]);
      const head = ['id', 'created', 'status', 'model', 'adapter', 'layers', 'dense → chosen'];
      const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      for (const r of [head, ...rows]) console.log(r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd());
      return 0;
    } finally {
      db.close();
    }
  },
};
