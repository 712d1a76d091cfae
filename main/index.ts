/**
 * Electron main: a secure window for the renderer and the supervised host process (DESIGN.md §4). The PIT core
 * does not run here: dawn.node's external ArrayBuffers are refused by Electron's V8 sandbox, so main spawns a
 * plain Node host (`PIT_NODE`, default `node`) and relays the RPC contract between it and the page.
 *
 * Environment: PIT_NODE (Node ≥ 20 for the host), PIT_DB (run database), ELECTRON_RENDERER_URL (dev server, set
 * by electron-vite).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, session, shell, type IpcMainInvokeEvent, type WebFrameMain } from 'electron';
import type { HostEvent, RpcResult } from '../core/protocol.ts';
import { contentSecurityPolicy } from './csp.ts';
import { IPC } from './ipc-channels.ts';
import { isHostMethod, RpcError } from './host/rpc.ts';
import { HostSupervisor } from './host/supervisor.ts';

const here = dirname(fileURLToPath(import.meta.url));
const rendererDir = join(here, '..', 'renderer');
const devUrl = process.env.ELECTRON_RENDERER_URL;

/** The page's CSP as a header (the dev server's pages; file:// loads carry it as a meta tag). Vite's HMR socket in dev. */
const CSP = contentSecurityPolicy(devUrl ? [new URL(devUrl).origin.replace(/^http/, 'ws')] : []);

const supervisor = new HostSupervisor({
  execPath: process.env.PIT_NODE || 'node',
  entry: join(here, 'host.js'),
  args: process.env.PIT_DB ? ['--db', process.env.PIT_DB] : [],
  // Electron's own variables mean nothing to a plain Node and could change how it starts.
  env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ELECTRON_'))),
});

let win: BrowserWindow | null = null;

/** Only our own page may call main: a navigated-away or injected frame gets nothing. */
function isTrustedFrame(frame: WebFrameMain | null): boolean {
  if (!frame) return false;
  const url = frame.url;
  if (devUrl) return url.startsWith(new URL(devUrl).origin);
  return url.startsWith(pathToFileURL(rendererDir).href);
}

function trusted(e: IpcMainInvokeEvent): void {
  if (!isTrustedFrame(e.senderFrame)) throw new Error('refused: IPC from an untrusted frame');
}

function send(event: HostEvent): void {
  if (win && !win.isDestroyed()) win.webContents.send(IPC.event, event);
}

function createWindow(): void {
  win = new BrowserWindow({
    width: 1440,
    height: 920,
    minWidth: 960,
    minHeight: 600,
    show: false,
    title: 'PIT Studio',
    backgroundColor: '#f6f7f9',
    webPreferences: {
      preload: join(here, '..', 'preload', 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win?.show());
  // New windows are denied; http(s) links open in the user's browser instead.
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (/^https?:\/\//.test(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  win.webContents.on('will-navigate', (e, url) => {
    if (url !== win?.webContents.getURL()) e.preventDefault();
  });
  win.on('closed', () => (win = null));
  if (devUrl) void win.loadURL(devUrl);
  else void win.loadFile(join(rendererDir, 'index.html'));
}

function registerIpc(): void {
  ipcMain.handle(IPC.request, async (e, method: unknown, params: unknown): Promise<RpcResult> => {
    trusted(e);
    if (!isHostMethod(method)) return { ok: false, error: { code: 'unknown-method', message: `unknown method '${String(method).slice(0, 80)}'` } };
    try {
      return { ok: true, result: await supervisor.request(method, params) };
    } catch (err) {
      const error = err instanceof RpcError ? err.toPayload() : { code: 'failed' as const, message: String((err as Error).message ?? err) };
      return { ok: false, error };
    }
  });
  ipcMain.handle(IPC.hostStatus, (e) => {
    trusted(e);
    return supervisor.status;
  });
  ipcMain.handle(IPC.restartHost, (e) => {
    trusted(e);
    supervisor.restart();
  });
  ipcMain.handle(IPC.pickFiles, async (e, kind: unknown) => {
    trusted(e);
    const model = kind === 'model';
    const opts: Electron.OpenDialogOptions = {
      title: model ? 'Choose an ONNX model' : 'Choose inputs',
      properties: model ? ['openFile'] : ['openFile', 'multiSelections'],
      filters: model
        ? [{ name: 'ONNX models', extensions: ['onnx'] }]
        : [{ name: 'Images and tensors', extensions: ['jpg', 'jpeg', 'png', 'npy'] }],
    };
    const r = win ? await dialog.showOpenDialog(win, opts) : await dialog.showOpenDialog(opts);
    return r.canceled ? [] : r.filePaths;
  });
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (win) {
      if (win.isMinimized()) win.restore();
      win.focus();
    }
  });
  supervisor.on('event', send);
  supervisor.on('status', (status) => send({ type: 'host.status', status }));
  supervisor.on('log', (line) => console.error(`[host] ${line}`));

  void app.whenReady().then(() => {
    session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
      callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } });
    });
    // The app needs no camera, notifications or the like: refuse every permission request.
    session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
    registerIpc();
    supervisor.start();
    createWindow();
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) createWindow();
    });
  });

  app.on('window-all-closed', () => app.quit());

  // Stop the host before quitting, so a job in flight marks its run incomplete instead of leaving it 'running'.
  let stopping = false;
  app.on('before-quit', (e) => {
    if (stopping) return;
    stopping = true;
    e.preventDefault();
    void supervisor.stop().finally(() => app.quit());
  });
}
