/**
 * Web mode (`pit serve`): the host serves the built renderer over HTTP and the RPC contract over a WebSocket, on
 * 127.0.0.1 only. Any page in the user's browser can reach localhost, so the socket demands a random per-launch
 * token (given to the page in the URL fragment, which browsers never send to servers or in Referer headers) and,
 * when the browser sends an Origin, that it is this server's own origin. Static files need no token: they are
 * the public build, and carry no data. Every request, HTTP or WebSocket upgrade, must name this server in its Host
 * header (127.0.0.1, localhost or [::1] with this port): a page on another site that re-points its own name at
 * 127.0.0.1 (DNS rebinding) sends its own name there and is refused. Each client is served at the pace it reads
 * (servePaced): a client that stops reading stops being served, and one that lets replies pile up is dropped.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { gzipSync } from 'node:zlib';
import { WebSocketServer, type WebSocket } from 'ws';
import type { HostEvent, HostStatus, RpcEventMessage } from '../../core/protocol.ts';
import { contentSecurityPolicy } from '../csp.ts';
import { handleMessage, type HostHandler } from './dispatch.ts';

/** The loopback address web mode binds to: never a public interface. */
export const LOOPBACK = '127.0.0.1';

/** Path of the WebSocket endpoint. */
export const RPC_PATH = '/rpc';

/** Largest request a client may send, bytes (requests are small; reports only travel the other way). */
const MAX_REQUEST_BYTES = 1 << 20;

/** What web mode serves: host methods plus its event stream. */
export interface WebHost extends HostHandler {
  onEvent(listener: (e: HostEvent) => void): () => void;
  /** The host's state, sent to each client as it connects (default: ready). */
  status?(): HostStatus;
}

/** How much one client may make the server hold (servePaced). */
export interface ClientLimits {
  /** Requests of one client served at the same time. */
  maxInFlight: number;
  /** Requests read and waiting; at this many the socket is no longer read (TCP then slows the client down). */
  maxQueued: number;
  /** Reply bytes not yet handed to the kernel; above this no request is started and the socket is not read. */
  highWaterBytes: number;
  /** Above this many unsent bytes (events keep coming to a client that does not read) the client is dropped. */
  maxBufferedBytes: number;
}

/** Default ClientLimits: a UI needs a handful of requests at once; a report is at most a few MB. */
export const CLIENT_LIMITS: Readonly<ClientLimits> = Object.freeze({
  maxInFlight: 8,
  maxQueued: 64,
  highWaterBytes: 4 << 20,
  maxBufferedBytes: 32 << 20,
});

/** Requests queued for one client beyond which it is dropped (see servePaced). */
export const MAX_QUEUED_BURST = 8192;

/** What the server holds for one client now (for tests and diagnostics). */
export interface ClientLoad {
  queued: number;
  inFlight: number;
  bufferedBytes: number;
  paused: boolean;
  /** Requests served so far. */
  served: number;
}

/** How to start web mode. */
export interface WebServerOptions {
  host: WebHost;
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** The built renderer (out/renderer); null serves the API only and says so on `/`. */
  staticDir: string | null;
  /** The token to demand; a random one when omitted (tests pass their own to check refusals). */
  token?: string;
  /** Per-client bounds (default CLIENT_LIMITS). */
  limits?: Partial<ClientLimits>;
}

/** A running web-mode server. */
export interface WebServer {
  /** `http://127.0.0.1:PORT/` */
  origin: string;
  port: number;
  token: string;
  /** The address to open: the origin with `#token=…`. */
  url: string;
  /** Stops accepting, closes every socket and the HTTP server. */
  close(): Promise<void>;
  /** What each connected WebSocket client makes the server hold now. */
  clients(): ClientLoad[];
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/** A new random token: 24 bytes, base64url (32 characters). */
export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Constant-time comparison, so the token cannot be guessed a character at a time from response timing. */
export function tokenMatches(expected: string, given: string | null): boolean {
  if (given === null) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Starts web mode on 127.0.0.1.
 * @throws Error (EADDRINUSE…) when the port cannot be bound.
 */
export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const token = opts.token ?? newToken();
  const staticRoot = opts.staticDir ? resolve(opts.staticDir) : null;
  let port = 0;
  const sockets = new Set<Socket>();

  const limits: ClientLimits = { ...CLIENT_LIMITS, ...opts.limits };
  const loads = new Set<() => ClientLoad>();
  const server = createServer((req, res) => {
    if (!hostAllowed(req.headers.host, port)) return refuseHttp(res, 403, FOREIGN_HOST);
    serveStatic(req, res, staticRoot, port);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_REQUEST_BYTES });

  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', `http://${LOOPBACK}`);
    const refuse = (status: number, why: string) => {
      socket.end(`HTTP/1.1 ${status} ${why}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(why)}\r\n\r\n${why}`);
    };
    if (!hostAllowed(req.headers.host, port)) return refuse(403, FOREIGN_HOST);
    if (url.pathname !== RPC_PATH) return refuse(404, 'Not Found');
    if (!tokenMatches(token, url.searchParams.get('token'))) return refuse(401, 'Unauthorized: wrong or missing token');
    const origin = req.headers.origin;
    if (origin !== undefined && !LOOPBACK_NAMES.some((name) => origin === `http://${name}:${port}`)) {
      return refuse(403, 'Forbidden: cross-origin connection');
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const load = servePaced(ws, opts.host, limits);
      loads.add(load);
      ws.on('close', () => loads.delete(load));
    });
  });

  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, LOOPBACK, () => {
      server.off('error', reject);
      resolvePromise();
    });
  });
  port = (server.address() as AddressInfo).port;
  const origin = `http://${LOOPBACK}:${port}/`;
  return {
    origin,
    port,
    token,
    url: `${origin}#token=${token}`,
    close: async () => {
      for (const ws of wss.clients) ws.close(1001, 'server shutting down');
      wss.close();
      await new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      });
    },
    clients: () => [...loads].map((l) => l()),
  };
}

/** Names a browser may use for this server: the loopback address it binds, and the two names of loopback. */
const LOOPBACK_NAMES = [LOOPBACK, 'localhost', '[::1]'] as const;

const FOREIGN_HOST = 'Forbidden: the Host header must be 127.0.0.1, localhost or [::1] with this port';

/**
 * Whether a request's Host header names this server: a loopback name and this port (`localhost` in any case).
 * A missing header (HTTP/1.0) is refused too: a browser always sends one.
 */
export function hostAllowed(host: string | undefined, port: number): boolean {
  if (!host) return false;
  const h = host.toLowerCase();
  return LOOPBACK_NAMES.some((name) => h === `${name}:${port}`);
}

function refuseHttp(res: ServerResponse, status: number, why: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(why), Connection: 'close' }).end(why);
}

/**
 * One client: requests in, responses and every host event out, at the pace the client reads. Requests wait in a
 * queue and at most `maxInFlight` are served at once; none is started while more than `highWaterBytes` of replies
 * wait to be sent, and the socket is not read while the queue is full or replies pile up — so a client that sends
 * thousands of requests without reading the replies holds a bounded amount of the server's memory, and TCP slows
 * it down. A client whose unsent bytes pass `maxBufferedBytes` anyway (events keep coming) is dropped; so is one
 * whose queue overflows from a single burst.
 * @returns what the client makes the server hold now.
 */
function servePaced(ws: WebSocket, host: WebHost, limits: ClientLimits): () => ClientLoad {
  const queue: unknown[] = [];
  let inFlight = 0;
  let served = 0;
  let paused = false;
  const drop = (why: string) => {
    queue.length = 0;
    ws.close(1008, why); // policy violation; terminate() if it does not go in time
    setTimeout(() => ws.terminate(), 1000).unref();
  };
  const send = (m: unknown) => {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > limits.maxBufferedBytes) return drop('the client does not read its replies');
    // The callback runs once the frame is handed to the kernel: room again, maybe.
    ws.send(JSON.stringify(m), () => pump());
  };
  const pump = () => {
    while (queue.length && inFlight < limits.maxInFlight && ws.bufferedAmount <= limits.highWaterBytes && ws.readyState === ws.OPEN) {
      const raw = queue.shift();
      inFlight++;
      void handleMessage(host, raw)
        .then(send)
        .finally(() => {
          inFlight--;
          served++;
          pump();
        });
    }
    const hold = queue.length >= limits.maxQueued || ws.bufferedAmount > limits.highWaterBytes;
    if (hold && !paused && ws.readyState === ws.OPEN) {
      ws.pause();
      paused = true;
    } else if (!hold && paused) {
      ws.resume();
      paused = false;
    }
  };
  const off = host.onEvent((event) => send({ event } satisfies RpcEventMessage));
  ws.on('close', off);
  ws.on('error', off);
  ws.on('message', (data, isBinary) => {
    let raw: unknown;
    try {
      if (isBinary) throw new Error('binary frame');
      raw = JSON.parse(data.toString());
    } catch {
      send({ id: -1, error: { code: 'invalid-params', message: 'a request must be one JSON text frame' } });
      return;
    }
    // Frames of a chunk already read when the socket was paused still arrive (one 64 KB read holds at most a few
    // thousand small frames); a queue far past that is abuse.
    if (queue.length >= MAX_QUEUED_BURST) return drop('too many requests waiting');
    queue.push(raw);
    pump();
  });
  const status = host.status?.() ?? { state: 'ready', message: 'connected', restarts: 0 };
  send({ event: { type: 'host.status', status } } satisfies RpcEventMessage);
  return () => ({ queued: queue.length, inFlight, bufferedBytes: ws.bufferedAmount, paused, served });
}

function serveStatic(req: IncomingMessage, res: ServerResponse, root: string | null, port: number): void {
  const headers = {
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-cache',
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { ...headers, Allow: 'GET, HEAD' }).end();
    return;
  }
  if (!root) {
    res
      .writeHead(503, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' })
      .end('PIT Studio: the renderer is not built (run `npm run build:renderer`); the WebSocket API is up.\n');
    return;
  }
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(req.url ?? '/', `http://${LOOPBACK}`).pathname);
  } catch {
    res.writeHead(400, headers).end();
    return;
  }
  if (pathname === '/' || pathname === '') pathname = '/index.html';
  pathname = staticAlias(pathname);
  // normalize + prefix check: no `..` or encoded separators escape the renderer directory.
  const file = normalize(join(root, pathname));
  if (!(file === root || file.startsWith(root + sep)) || pathname.includes('\0')) {
    res.writeHead(403, headers).end();
    return;
  }
  if (!existsSync(file) || !statSync(file).isFile()) {
    res.writeHead(404, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
    return;
  }
  const type = MIME[extname(file)] ?? 'application/octet-stream';
  const extra = type.startsWith('text/html') ? { 'Content-Security-Policy': contentSecurityPolicy([`ws://${LOOPBACK}:${port}`, `ws://localhost:${port}`]), 'X-Frame-Options': 'DENY' } : {};
  const gz = acceptsGzip(req) ? gzipped(file, type) : null;
  if (gz) {
    res.writeHead(200, { ...headers, ...extra, 'Content-Type': type, 'Content-Encoding': 'gzip', Vary: 'Accept-Encoding', 'Content-Length': gz.length });
    res.end(req.method === 'HEAD' ? undefined : gz);
    return;
  }
  res.writeHead(200, { ...headers, ...extra, 'Content-Type': type, 'Content-Length': statSync(file).size, ...(isCompressible(type) ? { Vary: 'Accept-Encoding' } : {}) });
  if (req.method === 'HEAD') res.end();
  else createReadStream(file).pipe(res);
}

/**
 * Paths served under another name: browsers ask for `/favicon.ico` whatever the page links, and the build ships an
 * SVG icon (renderer/public/favicon.svg), so the request is answered instead of logging a 404 on every load.
 */
export function staticAlias(pathname: string): string {
  return pathname === '/favicon.ico' ? '/favicon.svg' : pathname;
}

/** Whether the request accepts a gzip body (`Accept-Encoding: gzip`, not refused with q=0). */
export function acceptsGzip(req: Pick<IncomingMessage, 'headers'>): boolean {
  const ae = req.headers['accept-encoding'];
  const value = Array.isArray(ae) ? ae.join(',') : (ae ?? '');
  return value.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== '*') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return !q || Number(q.slice(2)) > 0;
  });
}

/** Text types worth compressing (the bundle, styles, the page, icons); images and fonts are compressed already. */
function isCompressible(type: string): boolean {
  return type.startsWith('text/') || type.startsWith('application/json') || type.startsWith('image/svg');
}

/** Compressed bodies by file, kept while the file is unchanged (the build is static: each file is compressed once). */
const gzipCache = new Map<string, { stamp: string; body: Buffer }>();

/** The gzip body of a compressible static file (cached by size and mtime), or null when not worth it. */
export function gzipped(file: string, type: string): Buffer | null {
  if (!isCompressible(type)) return null;
  const st = statSync(file);
  if (st.size < 1024) return null; // a few hundred bytes gain nothing over the header overhead
  const stamp = `${st.size}:${st.mtimeMs}`;
  const hit = gzipCache.get(file);
  if (hit && hit.stamp === stamp) return hit.body;
  const body = gzipSync(readFileSync(file), { level: 9 });
  gzipCache.set(file, { stamp, body });
  return body;
}
