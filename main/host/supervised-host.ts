/**
 * `pit serve`'s host: the PIT host runs in a child process under a HostSupervisor (as in the desktop app), so a GPU
 * job that crashes the process (a driver segfault, an out-of-memory kill) takes down the child, not the web server:
 * the supervisor restarts it and the server keeps serving. The run the dead job was writing is marked incomplete
 * with the reason here, by the parent, which outlives the crash.
 */
import type { HostStatus } from '../../core/protocol.ts';
import { RunStateError } from '../../db/errors.ts';
import { openDatabase } from '../../db/open.ts';
import { failRun } from '../../db/runs.ts';
import type { HostSupervisor } from './supervisor.ts';
import type { WebHost } from './web-server.ts';

/** Every request relayed to the supervised host; its events plus the supervisor's state changes as events. */
export function supervisedWebHost(s: HostSupervisor): WebHost {
  return {
    call: (method, params) => s.request(method, params),
    onEvent: (listener) => {
      const offEvents = s.on('event', listener);
      const offStatus = s.on('status', (status: HostStatus) => listener({ type: 'host.status', status }));
      return () => {
        offEvents();
        offStatus();
      };
    },
    status: () => s.status,
  };
}

/**
 * Marks the run of a profile job that ended `failed` incomplete, when it is still 'running': that happens only when
 * the host died under the job (a host that survives marks its own runs before it reports the end). Runs before the
 * restarted host's own clean-up would mark it plain 'interrupted', so the stored reason says what happened.
 * @param log where a failure to mark is reported (the database may be what failed).
 * @returns the unsubscribe function.
 */
export function markRunsOfCrashedJobs(s: HostSupervisor, dbPath: string, log: (line: string) => void): () => void {
  return s.on('event', (e) => {
    if (e.type !== 'job.end' || e.end.status !== 'failed' || e.end.runId === null) return;
    const reason = `the GPU process crashed: ${e.end.error.replace(/; finished layers are stored$/, '')}`;
    try {
      const db = openDatabase(dbPath, { markAbandoned: false });
      try {
        failRun(db, e.end.runId, reason);
        log(`run ${e.end.runId} marked incomplete: ${reason}`);
      } finally {
        db.close();
      }
    } catch (err) {
      if (err instanceof RunStateError) return; // already marked by the host that ran it
      log(`cannot mark run ${e.end.runId} incomplete: ${(err as Error).message}`);
    }
  });
}
