/**
 * The web-mode transport: JSON requests and events over a WebSocket to `pit serve`, authenticated by the
 * per-launch token. Reconnects after a drop (the host may have been restarted); a socket refused before it ever
 * opened means a wrong token and is not retried.
 */
import type { HostEvent, HostMethod, HostMethods, HostStatus, RpcResponse } from '../../../core/protocol.ts';
import { HostError, type Transport } from './types.ts';

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/** Longest wait between reconnection attempts, ms. */
const MAX_RETRY_MS = 5000;

/**
 * Connects to `wsUrl` (`ws://127.0.0.1:PORT/rpc?token=…`). Calls made before the socket opens wait for it.
 */
export function webSocketTransport(wsUrl: string): Transport {
  const listeners = new Set<(e: HostEvent) => void>();
  const pending = new Map<number, Pending>();
  let queue: string[] = [];
  let nextId = 1;
  let ws: WebSocket | null = null;
  let everOpened = false;
  let retryMs = 500;
  let refused = false;

  const emit = (e: HostEvent) => listeners.forEach((l) => l(e));
  const status = (state: HostStatus['state'], message: string) => emit({ type: 'host.status', status: { state, message, restarts: 0 } });

  function connect(): void {
    const sock = new WebSocket(wsUrl);
    ws = sock;
    let opened = false;
    sock.onopen = () => {
      opened = true;
      everOpened = true;
      retryMs = 500;
      for (const m of queue) sock.send(m);
      queue = [];
    };
    sock.onmessage = (msg) => {
      let m: RpcResponse | { event: HostEvent };
      try {
        m = JSON.parse(String(msg.data));
      } catch {
        return;
      }
      if ('event' in m) return emit(m.event);
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if ('error' in m) p.reject(new HostError(m.error.code, m.error.message));
      else p.resolve(m.result);
    };
    sock.onclose = () => {
      ws = null;
      for (const [id, p] of pending) {
        pending.delete(id);
        p.reject(new HostError('host-unavailable', 'the connection to the host was lost'));
      }
      if (!opened && !everOpened) {
        // The upgrade was refused (wrong token), or nothing listens: either way retrying cannot help.
        refused = true;
        queue = [];
        status('failed', 'the host refused the connection: open the exact URL that `pit serve` printed (it carries the token)');
        return;
      }
      status('disconnected', `connection lost; retrying in ${(retryMs / 1000).toFixed(1)} s`);
      setTimeout(connect, retryMs);
      retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
    };
  }
  connect();

  return {
    kind: 'web',
    call<M extends HostMethod>(method: M, params: HostMethods[M]['params']): Promise<HostMethods[M]['result']> {
      if (refused) return Promise.reject(new HostError('host-unavailable', 'not connected to the host (refused)'));
      const id = nextId++;
      const text = JSON.stringify({ id, method, params });
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        if (ws && ws.readyState === WebSocket.OPEN) ws.send(text);
        else queue.push(text);
      });
    },
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
