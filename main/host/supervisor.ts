/**
 * Spawns and supervises the host child process (DESIGN.md §4): a GPU crash or a device loss kills the host, not
 * the app. Plain Node (no Electron) so it is tested with a fake child script.
 *
 * - Requests made while the host is starting or restarting wait for it to be ready; requests in flight when it
 *   dies are rejected with `host-unavailable`, and jobs it was running (profiles and tunes) are reported ended
 *   (`failed`, with the run a profile job was writing when it is known).
 * - A host that dies is restarted after a back-off that doubles per consecutive failure (reset once a host has
 *   stayed up for `stableMs`); after `maxConsecutiveFailures` the supervisor gives up (state `failed`) until
 *   `restart()` is called — a wrong `PIT_NODE` should not spin forever.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { HostEvent, HostMessage, HostMethod, HostMethods, HostStatus, RpcResponse } from '../../core/protocol.ts';
import { DAWN_STARTUP_WARNING } from '../../core/gpu/quiet-stderr.ts';
import { RpcError } from './rpc.ts';

/** How to start the host and how patient to be with it. Times in ms. */
export interface SupervisorOptions {
  /** The Node runtime (`PIT_NODE`, default `node` on PATH). */
  execPath: string;
  /** The host script (out/main/host.js). */
  entry: string;
  /** Arguments of the host script. */
  args?: string[];
  /** Options of the runtime itself, before the script (e.g. `--import tsx` to run the host from source). */
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
  /** Delay before the first restart (default 500). */
  initialBackoffMs?: number;
  /** Longest delay between restarts (default 15 000). */
  maxBackoffMs?: number;
  /** A host that was up this long before dying resets the back-off (default 30 000). */
  stableMs?: number;
  /** Consecutive failures before giving up (default 5). */
  maxConsecutiveFailures?: number;
  /** A host that has not said `ready` by then is killed and counts as failed (default 60 000). */
  readyTimeoutMs?: number;
  /**
   * Lines of the host's output that are dropped (not logged, not kept as a crash cause); default Dawn's start-up
   * warnings (core/gpu/quiet-stderr.ts), which the host cannot filter itself when its stderr is a socket. Null keeps
   * every line (`--verbose`).
   */
  dropLines?: RegExp | null;
}

/** What the supervisor reports: host state changes, host events, and the host's stderr lines. */
export interface SupervisorListeners {
  status: (s: HostStatus) => void;
  event: (e: HostEvent) => void;
  log: (line: string) => void;
}

interface Pending {
  method: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

const STDERR_LINES_KEPT = 20;

/**
 * The line of a dead host's stderr that says why it died: the last one naming an error (`SyntaxError: …`,
 * `pit host: DatabaseError: …`), not Node's trailing version banner or a driver warning. Undefined when none does.
 */
export function errorLineOf(lines: readonly string[]): string | undefined {
  return [...lines].reverse().find((l) => /\b\w*Error\b|\berror:|^pit host:/i.test(l) && !/^\s+at /.test(l))?.trim();
}

/** Supervises one host process at a time. */
export class HostSupervisor {
  private child: ChildProcess | null = null;
  private readyAt = 0;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly waitingForReady: (() => void)[] = [];
  /** stop() calls waiting for the host to be gone. */
  private readonly exitWaiters: (() => void)[] = [];
  private readonly activeJobs = new Set<string>();
  /** The run each profile job in flight writes, once known (so a job that dies with its host names its run). */
  private readonly jobRuns = new Map<string, number>();
  /** Tunes of the tile database in flight, with the database they fill once known. */
  private readonly activeTunes = new Map<string, number | null>();
  private readonly stderrTail: string[] = [];
  private consecutiveFailures = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private readyTimer: NodeJS.Timeout | null = null;
  private stopped = true;
  /** restart() killed the host on purpose: respawn at once, without counting a failure. */
  private restartRequested = false;
  private current: HostStatus = { state: 'starting', message: 'not started', restarts: 0 };
  private readonly listeners: { [K in keyof SupervisorListeners]: Set<SupervisorListeners[K]> } = {
    status: new Set(),
    event: new Set(),
    log: new Set(),
  };
  private readonly opts: Required<Omit<SupervisorOptions, 'args' | 'env' | 'execArgv' | 'dropLines'>> & Pick<SupervisorOptions, 'args' | 'env' | 'execArgv' | 'dropLines'>;

  constructor(options: SupervisorOptions) {
    this.opts = {
      initialBackoffMs: 500,
      maxBackoffMs: 15_000,
      stableMs: 30_000,
      maxConsecutiveFailures: 5,
      readyTimeoutMs: 60_000,
      dropLines: DAWN_STARTUP_WARNING,
      ...options,
    };
  }

  /** The host's state now. */
  get status(): HostStatus {
    return { ...this.current };
  }

  /** The host's pid, or null when none is running. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Subscribes; returns the unsubscribe function. */
  on<K extends keyof SupervisorListeners>(kind: K, listener: SupervisorListeners[K]): () => void {
    this.listeners[kind].add(listener);
    return () => this.listeners[kind].delete(listener);
  }

  /** Starts the host (no-op when already running). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.spawnHost('starting', 'starting the host');
  }

  /** Starts again after `failed` (or restarts a live host), with the failure count reset. */
  restart(): void {
    this.consecutiveFailures = 0;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    this.stopped = false;
    if (this.child) {
      this.restartRequested = true;
      this.child.kill('SIGTERM'); // the exit handler respawns it
    }
    else this.spawnHost('restarting', 'restarting the host on request');
  }

  /**
   * Stops the host: SIGTERM (it cancels its job and closes the database), SIGKILL after `graceMs`.
   * Pending requests are rejected.
   */
  async stop(graceMs = 5000): Promise<void> {
    this.stopped = true;
    this.restartRequested = false;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const child = this.child;
    if (!child) {
      this.setStatus('disconnected', 'the host was stopped');
      return;
    }
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
      this.exitWaiters.push(() => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  /**
   * Sends one request to the host, waiting for it to be ready first.
   * @throws RpcError as the host answered it; `host-unavailable` when the host is stopped, has failed, or died
   *   while serving the request.
   */
  async request<M extends HostMethod>(method: M, params: HostMethods[M]['params']): Promise<HostMethods[M]['result']>;
  async request(method: string, params: unknown): Promise<unknown>;
  async request(method: string, params: unknown): Promise<unknown> {
    await this.whenReady();
    const child = this.child;
    if (!child || !child.connected) throw new RpcError('host-unavailable', `the host is not running: ${this.current.message}`);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { method, resolve, reject });
      child.send({ id, method, params }, (err) => {
        if (!err) return;
        // A failed write (EPIPE) means the host is going away: its exit rejects the request saying why. The timer
        // only guards against a host that stays up with a broken channel.
        setTimeout(() => {
          if (this.pending.delete(id)) reject(new RpcError('host-unavailable', `cannot reach the host: ${err.message}`));
        }, 1000).unref();
      });
    });
  }

  private whenReady(): Promise<void> {
    const s = this.current.state;
    if (s === 'ready') return Promise.resolve();
    if (this.stopped || s === 'failed') {
      return Promise.reject(new RpcError('host-unavailable', `the host is not running: ${this.current.message}`));
    }
    return new Promise((resolve) => this.waitingForReady.push(resolve));
  }

  private setStatus(state: HostStatus['state'], message: string): void {
    this.current = { state, message, restarts: this.current.restarts };
    for (const l of this.listeners.status) l(this.status);
    // Waiters re-check the state: ready → send; failed or disconnected → rejected by request().
    if (state === 'ready' || state === 'failed' || state === 'disconnected') this.waitingForReady.splice(0).forEach((r) => r());
  }

  private spawnHost(state: 'starting' | 'restarting', message: string): void {
    this.setStatus(state, message);
    this.readyAt = 0;
    this.stderrTail.length = 0;
    let child: ChildProcess;
    try {
      child = spawn(this.opts.execPath, [...(this.opts.execArgv ?? []), this.opts.entry, ...(this.opts.args ?? [])], {
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        env: this.opts.env ?? process.env,
        serialization: 'json',
      });
    } catch (e) {
      this.onFailure(`cannot start the host with '${this.opts.execPath}': ${(e as Error).message}`);
      return;
    }
    this.child = child;
    let spawnError: Error | null = null;
    const onLines = (buf: Buffer) => {
      for (const line of buf.toString('utf8').split(/\r?\n/)) {
        if (!line.trim() || this.opts.dropLines?.test(line)) continue;
        this.stderrTail.push(line);
        if (this.stderrTail.length > STDERR_LINES_KEPT) this.stderrTail.shift();
        for (const l of this.listeners.log) l(line);
      }
    };
    child.stdout?.on('data', onLines);
    child.stderr?.on('data', onLines);
    child.on('message', (m) => this.onMessage(m as HostMessage));
    this.readyTimer = setTimeout(() => {
      this.stderrTail.push(`the host did not become ready within ${this.opts.readyTimeoutMs} ms`);
      child.kill('SIGKILL');
    }, this.opts.readyTimeoutMs);
    let gone = false;
    const onGone = (code: number | null, signal: NodeJS.Signals | null) => {
      if (gone) return;
      gone = true;
      if (this.readyTimer) clearTimeout(this.readyTimer);
      this.readyTimer = null;
      this.child = null;
      const uptime = this.readyAt ? Date.now() - this.readyAt : 0;
      const how = spawnError
        ? (spawnError as NodeJS.ErrnoException).code === 'ENOENT'
          ? `'${this.opts.execPath}' was not found: set PIT_NODE to a Node.js ≥ 20 binary`
          : `cannot start '${this.opts.execPath}': ${spawnError.message}`
        : `the host exited (${signal ? `signal ${signal}` : `code ${code}`})`;
      const cause = spawnError ? undefined : errorLineOf(this.stderrTail);
      const message = cause ? `${how}: ${cause}` : how;
      this.failInFlight(message);
      this.exitWaiters.splice(0).forEach((r) => r());
      if (this.stopped) {
        this.setStatus('disconnected', 'the host was stopped');
        return;
      }
      if (this.restartRequested) {
        this.restartRequested = false;
        this.spawnHost('restarting', 'restarting the host on request');
        return;
      }
      if (uptime >= this.opts.stableMs) this.consecutiveFailures = 0;
      this.onFailure(message);
    };
    child.on('exit', onGone);
    child.on('error', (err) => {
      spawnError = err;
      // A runtime that could not be started (ENOENT, EACCES) never emits 'exit'.
      if (child.pid === undefined) onGone(null, null);
    });
  }

  private onMessage(m: HostMessage): void {
    if ('ready' in m) {
      if (this.readyTimer) clearTimeout(this.readyTimer);
      this.readyTimer = null;
      this.readyAt = Date.now();
      this.setStatus('ready', `host ready (pid ${m.pid})`);
      return;
    }
    if ('event' in m) {
      const e = m.event;
      if (e.type === 'progress') {
        this.activeJobs.add(e.jobId);
        if (e.event.kind === 'layer') this.jobRuns.set(e.jobId, e.event.runId);
      }
      // One GPU job at a time: a run created while one profile job is in flight is that job's.
      if (e.type === 'runs.changed' && e.change === 'created' && this.activeJobs.size === 1) this.jobRuns.set([...this.activeJobs][0]!, e.runId);
      if (e.type === 'job.end') {
        this.activeJobs.delete(e.end.jobId);
        this.jobRuns.delete(e.end.jobId);
      }
      if (e.type === 'tune.progress') this.activeTunes.set(e.jobId, 'tileDbId' in e.event ? e.event.tileDbId : (this.activeTunes.get(e.jobId) ?? null));
      if (e.type === 'tune.end') this.activeTunes.delete(e.end.jobId);
      for (const l of this.listeners.event) l(e);
      return;
    }
    const res = m as RpcResponse;
    const p = this.pending.get(res.id);
    if (!p) return;
    this.pending.delete(res.id);
    if ('error' in res) p.reject(new RpcError(res.error.code, res.error.message));
    else {
      if (p.method === 'profile.start') this.activeJobs.add((res.result as { jobId: string }).jobId);
      if (p.method === 'tiledb.tune') {
        const { jobId } = res.result as { jobId: string };
        if (!this.activeTunes.has(jobId)) this.activeTunes.set(jobId, null);
      }
      p.resolve(res.result);
    }
  }

  /** Rejects requests in flight and ends the jobs the dead host was running. */
  private failInFlight(message: string): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(new RpcError('host-unavailable', `${message} while serving ${p.method}`));
    }
    for (const jobId of this.activeJobs) {
      const end = { jobId, runId: this.jobRuns.get(jobId) ?? null, status: 'failed' as const, error: `${message}; finished layers are stored` };
      for (const l of this.listeners.event) l({ type: 'job.end', end });
    }
    this.activeJobs.clear();
    this.jobRuns.clear();
    for (const [jobId, tileDbId] of this.activeTunes) {
      const end = { jobId, tileDbId, status: 'failed' as const, error: `${message}; measured points are stored`, measured: 0, skipped: 0, failed: 0, elapsedMs: 0 };
      for (const l of this.listeners.event) l({ type: 'tune.end', end });
    }
    this.activeTunes.clear();
  }

  private onFailure(message: string): void {
    this.consecutiveFailures++;
    if (this.consecutiveFailures > this.opts.maxConsecutiveFailures) {
      this.setStatus('failed', `${message} (gave up after ${this.opts.maxConsecutiveFailures} restarts in a row)`);
      return;
    }
    const delay = Math.min(this.opts.maxBackoffMs, this.opts.initialBackoffMs * 2 ** (this.consecutiveFailures - 1));
    this.current.restarts++;
    this.setStatus('restarting', `${message}; restarting in ${(delay / 1000).toFixed(1)} s`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.stopped) this.spawnHost('restarting', `restarting the host (attempt ${this.consecutiveFailures})`);
    }, delay);
  }
}
