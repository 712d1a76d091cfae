/** `pit show RUN`: the per-layer table of a stored run. */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatReport, skippedByReason } from '../../core/report/table.ts';
import { getRunReport } from '../../db/runs.ts';
import { checkOutputFile, DB_HELP, openDb, positiveInt, UsageError, type Command } from './common.ts';

export const showCommand: Command = {
  name: 'show',
  summary: 'print the per-layer table of a stored run',
  help: `Usage: pit show RUN [--db FILE] [--json FILE|-]

Prints the per-layer table of run RUN (see \`pit runs\`): layer, op, M×N×K, sparsity of the exploited operand, best
micro-tile density, dense ms, chosen variant, chosen ms (kernel + detection), speedup and max error, then totals
and every layer that was not profiled, grouped by reason.

Options:
${DB_HELP}
  --json FILE         also write the run's report as JSON (- for standard output, instead of the table), with
                      "skipped": every skipped layer grouped by reason
  -h, --help          show this help`,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { db: { type: 'string' }, json: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) return console.log(this.help), 0;
    if (positionals.length !== 1) throw new UsageError('pit show takes one run id (see `pit runs`)');
    const id = positiveInt('RUN', positionals[0], 0);
    checkOutputFile('--json', values.json);
    const { db } = openDb(values.db, 'read');
    try {
      const report = getRunReport(db, id);
      const json = () => JSON.stringify({ ...report, skipped: skippedByReason(report.layers) }, null, 2);
      if (values.json === '-') {
        console.log(json());
        return 0;
      }
      console.log(formatReport(report));
      if (values.json) writeFileSync(values.json, json());
      return 0;
    } finally {
      db.close();
    }
  },
};
