/**
 * Entry of the host child process that Electron main spawns with a plain Node (`PIT_NODE`, DESIGN.md §4): serves
 * the RPC contract over Node's IPC channel (fd 3, JSON serialisation) and forwards host events.
 *
 * IPC rather than stdio: native code (onnxruntime, Dawn) may print to stdout, which must not corrupt the
 * message stream. Arguments: `--db FILE` (default: $PIT_DB, else the XDG data path).
 * Exits when main goes away (the IPC channel closes) or on SIGTERM, after cancelling the job in flight so the run
 * is marked incomplete rather than left 'running'.
 */
import { parseArgs } from 'node:util';
import type { HostMessage } from '../../core/protocol.ts';
import { defaultDbPath } from '../../db/open.ts';
import { createHost } from './create.ts';
import { handleMessage } from './dispatch.ts';
import { errorLine } from './service.ts';

async function main(): Promise<void> {
  const send = process.send?.bind(process);
  if (!send) {
    console.error('pit host: no IPC channel: this process is started by PIT Studio (or use `pit serve` for web mode)');
    process.exit(2);
  }
  const post = (m: HostMessage) => {
    if (process.connected) send(m);
  };
  const { values } = parseArgs({ options: { db: { type: 'string' } } });
  // Only the default location gets its folder made; a --db or $PIT_DB in a missing folder is reported.
  const host = createHost(values.db ?? defaultDbPath(), { createDirs: values.db === undefined && !process.env.PIT_DB });
  host.service.onEvent((event) => post({ event }));
  process.on('message', (raw) => {
    void handleMessage(host.service, raw).then(post);
  });

  let closing = false;
  const shutdown = async (code: number) => {
    if (closing) return;
    closing = true;
    try {
      await host.close();
    } finally {
      process.exit(code);
    }
  };
  process.on('disconnect', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  process.on('SIGINT', () => void shutdown(0));
  post({ ready: true, pid: process.pid });
}

main().catch((e) => {
  // Reaches the supervisor through stderr: it shows the last line when the host dies.
  console.error(`pit host: ${errorLine(e)}`);
  process.exit(1);
});
