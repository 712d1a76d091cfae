/** The IPC channels between the preload and Electron main: the only ones either side listens on. */
export const IPC = {
  /** invoke(method, params) → RpcResult */
  request: 'pit:request',
  /** main → page: HostEvent */
  event: 'pit:event',
  /** invoke() → HostStatus */
  hostStatus: 'pit:host-status',
  /** invoke() → void */
  restartHost: 'pit:restart-host',
  /** invoke(kind) → string[] */
  pickFiles: 'pit:pick-files',
} as const;
