/**
 * The preload: one narrow, typed object (`window.pit`, core/protocol.ts `PitBridge`) and nothing raw — the page
 * never sees `ipcRenderer` or an IPC event (after VS Code's sandbox preload). Every host method is checked
 * against the contract's allow-list here, and again in main, before it reaches the host.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { HostEvent, HostMethod, HostStatus, PitBridge, RpcResult } from '../core/protocol.ts';
import { IPC } from './ipc-channels.ts';
import { isHostMethod } from './host/rpc.ts';

const bridge: PitBridge = {
  request(method: HostMethod, params: unknown): Promise<RpcResult> {
    if (!isHostMethod(method)) {
      return Promise.resolve({ ok: false, error: { code: 'unknown-method', message: `unknown method '${String(method).slice(0, 80)}'` } });
    }
    return ipcRenderer.invoke(IPC.request, method, params) as Promise<RpcResult>;
  },
  onEvent(listener: (e: HostEvent) => void): () => void {
    const wrapped = (_e: IpcRendererEvent, event: HostEvent) => listener(event);
    ipcRenderer.on(IPC.event, wrapped);
    return () => {
      ipcRenderer.removeListener(IPC.event, wrapped);
    };
  },
  hostStatus(): Promise<HostStatus> {
    return ipcRenderer.invoke(IPC.hostStatus) as Promise<HostStatus>;
  },
  restartHost(): Promise<void> {
    return ipcRenderer.invoke(IPC.restartHost) as Promise<void>;
  },
  pickFiles(kind: 'model' | 'input'): Promise<string[]> {
    if (kind !== 'model' && kind !== 'input') return Promise.resolve([]);
    return ipcRenderer.invoke(IPC.pickFiles, kind) as Promise<string[]>;
  },
};

contextBridge.exposeInMainWorld('pit', bridge);
