/**
 * Web mode's server: loopback only, static files with a CSP and no way out of the renderer directory, and a
 * WebSocket that demands the per-launch token and this server's own origin, then relays requests and events.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { HostEvent } from '../../core/protocol.ts';
import { validateRequest } from '../../main/host/rpc.ts';
import { LOOPBACK, newToken, startWebServer, tokenMatches, type WebHost, type WebServer } from '../../main/host/web-server.ts';

let staticDir: string;
const servers: WebServer[] = [];

/** A host that answers host.info and echoes events to every client. */
function fakeHost(): WebHost & { emit(e: HostEvent): void } {
  const listeners = new Set<(e: HostEvent) => void>();
  return {
    async call(method, params) {
      validateRequest(method, params);
      if (method === 'host.info') return { version: 'test', adapter: null, dbPath: ':memory:' };
      return [];
    },
    onEvent(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    emit(e) {
      for (const l of listeners) l(e);
    },
  };
}

async function serve(host: WebHost = fakeHost(), dir: string | null = staticDir): Promise<WebServer> {
  const s = await startWebServer({ host, staticDir: dir });
  servers.push(s);
  return s;
}

function get(url: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    // A raw path (no URL normalisation by the client), to try escaping the directory.
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, path: url.slice(u.origin.length), method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens a socket; resolves with the HTTP status of a refused upgrade, or the open socket. */
function connect(s: WebServer, token: string, origin?: string): Promise<{ status: number; ws?: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://${LOOPBACK}:${s.port}/rpc?token=${encodeURIComponent(token)}`, origin ? { origin } : {});
    ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0 }));
    ws.on('open', () => resolve({ status: 101, ws }));
    ws.on('error', () => {});
  });
}

function nextMessage(ws: WebSocket, pred: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const on = (data: WebSocket.RawData) => {
      const m = JSON.parse(String(data)) as Record<string, unknown>;
      if (pred(m)) {
        ws.off('message', on);
        resolve(m);
      }
    };
    ws.on('message', on);
  });
}

beforeAll(() => {
  staticDir = mkdtempSync(join(tmpdir(), 'pit-web-'));
  mkdirSync(join(staticDir, 'assets'));
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>PIT</title>');
  writeFileSync(join(staticDir, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(staticDir, 'assets', 'big.js'), `/* bundle */\n${'export const x = 1;\n'.repeat(500)}`);
  writeFileSync(join(staticDir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('tokens', () => {
  it('are random, URL-safe and compared exactly', () => {
    const a = newToken();
    expect(a).toMatch(/^[\w-]{32}$/);
    expect(newToken()).not.toBe(a);
    expect(tokenMatches(a, a)).toBe(true);
    expect(tokenMatches(a, a.slice(1))).toBe(false);
    expect(tokenMatches(a, null)).toBe(false);
  });
});

describe('startWebServer', () => {
  it('listens on 127.0.0.1 and prints the token in the URL fragment', async () => {
    const s = await serve();
    expect(s.origin).toBe(`http://127.0.0.1:${s.port}/`);
    expect(s.url).toBe(`${s.origin}#token=${s.token}`);
  });

  it('serves the renderer with a CSP, and nothing outside it', async () => {
    const s = await serve();
    const index = await get(s.origin);
    expect(index.status).toBe(200);
    expect(index.body).toContain('<title>PIT</title>');
    expect(index.headers['content-security-policy']).toContain(`connect-src 'self' ws://127.0.0.1:${s.port}`);
    expect(index.headers['x-content-type-options']).toBe('nosniff');
    expect((await get(`${s.origin}assets/app.js`)).headers['content-type']).toContain('text/javascript');
    expect((await get(`${s.origin}missing.js`)).status).toBe(404);
    expect([403, 404]).toContain((await get(`${s.origin}../package.json`)).status);
    expect([403, 404]).toContain((await get(`${s.origin}%2e%2e/%2e%2e/etc/passwd`)).status);
  });

  it('gzips text files for clients that accept it, answers /favicon.ico with the SVG icon', async () => {
    const s = await serve();
    const raw = (path: string, headers: Record<string, string>) =>
      new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
        const req = request({ host: LOOPBACK, port: s.port, path, method: 'GET', headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        });
        req.on('error', reject);
        req.end();
      });
    const plain = await raw('/assets/big.js', {});
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.length).toBe(10_013);
    const gz = await raw('/assets/big.js', { 'Accept-Encoding': 'br, gzip;q=0.8' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.vary).toBe('Accept-Encoding');
    expect(gz.body.length).toBeLessThan(200);
    expect(gunzipSync(gz.body).toString()).toBe(plain.body.toString());
    expect((await raw('/assets/big.js', { 'Accept-Encoding': 'gzip;q=0' })).headers['content-encoding']).toBeUndefined();
    // Too small to be worth it.
    expect((await raw('/assets/app.js', { 'Accept-Encoding': 'gzip' })).headers['content-encoding']).toBeUndefined();
    const icon = await raw('/favicon.ico', {});
    expect(icon.status).toBe(200);
    expect(icon.headers['content-type']).toBe('image/svg+xml');
  });

  it('says so when the renderer is not built', async () => {
    const s = await serve(fakeHost(), null);
    const r = await get(s.origin);
    expect(r.status).toBe(503);
    expect(r.body).toContain('npm run build:renderer');
  });

  it('refuses a wrong or missing token (401) and a foreign origin (403)', async () => {
    const s = await serve();
    expect((await connect(s, 'wrong')).status).toBe(401);
    expect((await connect(s, '')).status).toBe(401);
    expect((await connect(s, s.token.slice(0, -1))).status).toBe(401);
    expect((await connect(s, s.token, 'http://evil.example')).status).toBe(403);
    expect((await connect(s, s.token, `http://localhost:${s.port}`)).status).toBe(101);
  });

  it('relays requests, errors and events to a client with the token', async () => {
    const host = fakeHost();
    const s = await serve(host);
    const { ws } = await connect(s, s.token, `http://127.0.0.1:${s.port}`);
    const sock = ws!;
    const info = nextMessage(sock, (m) => m.id === 1);
    sock.send(JSON.stringify({ id: 1, method: 'host.info', params: {} }));
    expect(await info).toEqual({ id: 1, result: { version: 'test', adapter: null, dbPath: ':memory:' } });

    const bad = nextMessage(sock, (m) => m.id === 2);
    sock.send(JSON.stringify({ id: 2, method: 'runs.get', params: { id: 'x' } }));
    expect(await bad).toEqual({ id: 2, error: { code: 'invalid-params', message: "runs.get: 'id' must be an integer, got 'x'" } });

    const garbage = nextMessage(sock, (m) => m.id === -1);
    sock.send('{not json');
    expect(await garbage).toMatchObject({ error: { code: 'invalid-params' } });

    const event = nextMessage(sock, (m) => 'event' in m && (m.event as HostEvent).type === 'runs.changed');
    host.emit({ type: 'runs.changed', runId: 3, change: 'created' });
    expect(await event).toEqual({ event: { type: 'runs.changed', runId: 3, change: 'created' } });
    sock.close();
  });
});
