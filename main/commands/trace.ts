/** `pit trace RUN --out FILE`: a stored run as a Chrome-trace / Perfetto timeline (core/report/trace.ts). */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runTrace } from '../../core/report/trace.ts';
import { getRunReport } from '../../db/runs.ts';
import { DB_HELP, openDb, positiveInt, UsageError, type Command } from './common.ts';

/** The `pit trace` subcommand (registered in main/cli.ts). */
export const traceCommand: Command = {
  name: 'trace',
  summary: 'write a run as a Chrome-trace / Perfetto timeline (JSON)',
  help: `Usage: pit trace RUN --out FILE|- [--db FILE] [--json]

Writes run RUN (see \`pit runs\`) in the Chrome trace event format, which the Perfetto UI, chrome://tracing and
other trace viewers open. Per input: the reference model's own time (onnxruntime on the CPU), then one slot per
layer with the chosen variant's layout preparation, detection, kernel and readback ("chosen variants" track), and
every measured variant with its phases, one track per kernel family. Spans are the stored medians laid end to end
(a synthetic time axis, not wall-clock timestamps); each carries its spread (quartiles, min, max, samples, method).

Options:
  --out FILE          where to write the JSON (- for standard output)
${DB_HELP}
  --json              print a one-line JSON summary (run, file, events, chosen and reference ms) instead of text
  -h, --help          show this help

Exit codes: 0 written, 1 failure (no such run, unwritable file), 2 usage.`,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { out: { type: 'string' }, db: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) return console.log(this.help), 0;
    if (positionals.length !== 1) throw new UsageError('pit trace takes one run id (see `pit runs`)');
    if (!values.out) throw new UsageError('--out FILE is required (- for standard output)');
    const id = positiveInt('RUN', positionals[0], 0);
    const { db } = openDb(values.db, 'read');
    try {
      const trace = runTrace(getRunReport(db, id));
      const text = JSON.stringify(trace);
      if (values.out === '-') {
        process.stdout.write(text + '\n');
        return 0;
      }
      writeFileSync(values.out, text);
      const spans = trace.traceEvents.filter((e) => e.ph === 'X').length;
      const summary = { run: id, out: values.out, events: trace.traceEvents.length, spans, chosenMs: trace.metadata.chosenMs, referenceMs: trace.metadata.referenceMs };
      if (values.json) console.log(JSON.stringify(summary));
      else console.log(`run ${id}: ${trace.traceEvents.length} events (${spans} spans) written to ${values.out}; open it in the Perfetto UI or chrome://tracing`);
      return 0;
    } finally {
      db.close();
    }
  },
};
