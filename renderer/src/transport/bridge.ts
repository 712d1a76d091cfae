/** The Electron transport: the preload's `window.pit` bridge. */
import type { HostEvent, HostMethod, HostMethods, PitBridge } from '../../../core/protocol.ts';
import { HostError, type Transport } from './types.ts';

declare global {
  interface Window {
    /** Set by the preload in Electron; absent in a browser. */
    pit?: PitBridge;
  }
}

/** Wraps the preload bridge; errors come back as data and are rethrown here as HostErrors. */
export function bridgeTransport(bridge: PitBridge): Transport {
  return {
    kind: 'electron',
    async call<M extends HostMethod>(method: M, params: HostMethods[M]['params']): Promise<HostMethods[M]['result']> {
      const r = await bridge.request(method, params);
      if (!r.ok) throw new HostError(r.error.code, r.error.message);
      return r.result as HostMethods[M]['result'];
    },
    onEvent(listener: (e: HostEvent) => void) {
      const off = bridge.onEvent(listener);
      // The supervisor may have changed state before this page subscribed: replay the current state.
      void bridge.hostStatus().then((status) => listener({ type: 'host.status', status }));
      return off;
    },
    restartHost: () => bridge.restartHost(),
    pickFiles: (kind) => bridge.pickFiles(kind),
  };
}
