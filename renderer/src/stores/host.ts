/**
 * The connection to the host: the transport, its state, `host.info`, host events fanned out to the other
 * stores, and the notices (errors and confirmations) the app shows.
 */
import { defineStore } from 'pinia';
import { markRaw, ref, shallowRef } from 'vue';
import type { HostEvent, HostMethod, HostMethods, HostStatus } from '../../../core/protocol.ts';
import { HostError, type Transport } from '../transport/types.ts';

/** A message at the bottom of the window. */
export interface Notice {
  id: number;
  kind: 'error' | 'info';
  text: string;
}

/** How long an info notice stays, ms (errors stay until dismissed). */
const INFO_NOTICE_MS = 5000;

/** The connection to the host (see the module comment). */
export const useHostStore = defineStore('host', () => {
  const transport = shallowRef<Transport | null>(null);
  const status = ref<HostStatus>({ state: 'starting', message: 'connecting to the host', restarts: 0 });
  const info = ref<HostMethods['host.info']['result'] | null>(null);
  const notices = ref<Notice[]>([]);
  const subscribers = new Set<(e: HostEvent) => void>();
  let nextNotice = 1;

  /** Adds a notice; info notices go away by themselves. */
  function notify(kind: Notice['kind'], text: string): void {
    const id = nextNotice++;
    notices.value = [...notices.value.slice(-4), { id, kind, text }];
    if (kind === 'info') setTimeout(() => dismiss(id), INFO_NOTICE_MS);
  }

  function dismiss(id: number): void {
    notices.value = notices.value.filter((n) => n.id !== id);
  }

  /**
   * Calls a host method.
   * @throws HostError (also when not connected yet).
   */
  async function call<M extends HostMethod>(method: M, params: HostMethods[M]['params']): Promise<HostMethods[M]['result']> {
    const t = transport.value;
    if (!t) throw new HostError('host-unavailable', 'not connected to the host');
    return t.call(method, params);
  }

  async function refreshInfo(): Promise<void> {
    try {
      info.value = await call('host.info', {});
    } catch (e) {
      notify('error', `host.info: ${(e as Error).message}`);
    }
  }

  function onEvent(e: HostEvent): void {
    if (e.type === 'host.status') {
      const was = status.value.state;
      status.value = e.status;
      if (e.status.state === 'ready' && was !== 'ready') void refreshInfo();
      if (e.status.state === 'restarting' && was === 'ready') notify('error', `The host stopped: ${e.status.message}`);
    }
    for (const s of subscribers) s(e);
  }

  /** Connects the app to a host (once, at start-up). */
  function connect(t: Transport): void {
    transport.value = markRaw(t);
    t.onEvent(onEvent);
    void refreshInfo().then(() => {
      if (info.value && status.value.state === 'starting') status.value = { state: 'ready', message: 'connected', restarts: 0 };
    });
  }

  /** Subscribes to host events; returns the unsubscribe function. */
  function subscribe(listener: (e: HostEvent) => void): () => void {
    subscribers.add(listener);
    return () => subscribers.delete(listener);
  }

  async function restartHost(): Promise<void> {
    await transport.value?.restartHost?.();
  }

  return { transport, status, info, notices, notify, dismiss, call, connect, subscribe, refreshInfo, restartHost };
});
