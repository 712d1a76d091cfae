/**
 * A profiling writer in its own process, for the recovery and concurrency tests. argv: DB_PATH MODE [N], where MODE is
 * `crash` (create a run, record two layers, then die by SIGKILL: no finishRun, no failRun, no close),
 * `hold` (create a run, record one layer, print `ready RUN_ID`, then wait to be killed), or
 * `many` (wait for the file DB_PATH.go to exist, so two writers start together; then create a run, record N layers
 * as fast as it can, finish it and print `done RUN_ID`: what two `pit profile` processes on one file do).
 */
import { existsSync } from 'node:fs';
import { openDatabase } from '../../db/open.ts';
import { createRun, finishRun, recordLayer } from '../../db/runs.ts';
import { K_DENSE, K_DETECT, K_PITK, layer0, layer1, newRun } from './fixtures.ts';

const [path, mode, count] = process.argv.slice(2);
if (mode === 'many') {
  const db = openDatabase(path!);
  while (!existsSync(`${path}.go`)) await new Promise((r) => setTimeout(r, 5));
  const id = createRun(db, newRun());
  for (let i = 0; i < Number(count); i++) recordLayer(db, id, { ...layer0(), index: i }, [K_DENSE, K_DETECT, K_PITK]);
  finishRun(db, id);
  db.close();
  process.stdout.write(`done ${id}\n`);
} else {
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
}
