/**
 * How the renderer reaches the host: the same interface over the Electron preload (`window.pit`) and over a
 * WebSocket in web mode (Netron's one view, two hosts). Stores depend on this interface only.
 */
import type { HostEvent, HostMethod, HostMethods, RpcErrorCode } from '../../../core/protocol.ts';

/** A request the host refused or could not serve. */
export class HostError extends Error {
  override name = 'HostError';
  constructor(
    readonly code: RpcErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The connection to a host. */
export interface Transport {
  /** `electron` (preload bridge) or `web` (WebSocket to `pit serve`). */
  readonly kind: 'electron' | 'web';
  /**
   * Calls a host method.
   * @throws HostError with the host's code and one-line message.
   */
  call<M extends HostMethod>(method: M, params: HostMethods[M]['params']): Promise<HostMethods[M]['result']>;
  /** Host events and host state changes; returns the unsubscribe function. */
  onEvent(listener: (e: HostEvent) => void): () => void;
  /** Restarts a supervised host (Electron only). */
  restartHost?(): Promise<void>;
  /** A native file dialog (Electron only); [] when cancelled. */
  pickFiles?(kind: 'model' | 'input'): Promise<string[]>;
}
