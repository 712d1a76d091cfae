/**
 * A profiling writer in its own process, for the recovery tests. argv: DB_PATH MODE, where MODE is
 * `crash` (create a run, record two layers, then die by SIGKILL: no finishRun, no failRun, no close) or
 * `hold` (create a run, record one layer, print `ready RUN_ID`, then wait to be killed).
 */
import { openDatabase } from '../../db/open.ts';
import { createRun, recordLayer } from '../../db/runs.ts';
import { K_DENSE, K_DETECT, K_PITK, layer0, layer1, newRun } from './fixtures.ts';

const [path, mode] = process.argv.slice(2);
const db = openDatabase(path!);
const id = createRun(db, newRun());
recordLayer(db, id, layer0(), [K_DENSE, K_DETECT, K_PITK]);
if (mode === 'crash') {
  recordLayer(db, id, layer1(), []);
  process.stdout.write(`crashing ${id}\n`, () => process.kill(process.pid, 'SIGKILL'));
} else {
  process.stdout.write(`ready ${id}\n`);
  setInterval(() => {}, 1000);
}
