/**
 * Web mode against a hostile page or client: the Host header must name this server (DNS rebinding), for plain
 * HTTP and for the WebSocket upgrade; and a client that sends thousands of requests without reading the replies
 * holds a bounded amount of the server (it stops being served and read), yet loses nothing once it reads again.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CLIENT_LIMITS, hostAllowed, MAX_QUEUED_BURST, LOOPBACK, startWebServer, type WebHost, type WebServer } from '../../main/host/web-server.ts';

const servers: WebServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const staticDir = mkdtempSync(join(tmpdir(), 'pit-web-hard-'));
writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>PIT</title>');

/** A host whose every answer is `replyBytes` of JSON; counts the calls it gets. */
function bulkyHost(replyBytes: number): WebHost & { calls: number } {
  const payload = 'x'.repeat(replyBytes);
  const host = {
    calls: 0,
    async call() {
      host.calls++;
      return { payload };
    },
    onEvent: () => () => {},
  };
  return host;
}

async function serve(host: WebHost): Promise<WebServer> {
  const s = await startWebServer({ host, staticDir });
  servers.push(s);
  return s;
}

/** GET / with a chosen Host header; resolves with the status. */
function getWithHost(port: number, host: string | null): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = host === null ? {} : { Host: host };
    const req = request({ host: LOOPBACK, port, path: '/', method: 'GET', headers, setHost: host !== null }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A raw WebSocket upgrade with a chosen Host header; resolves with the status line's code. */
function upgradeWithHost(s: WebServer, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = tcpConnect(s.port, LOOPBACK, () => {
      sock.write(
        `GET /rpc?token=${s.token} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    let head = '';
    sock.on('data', (d) => {
      head += d.toString();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (m) {
        resolve(Number(m[1]));
        sock.destroy();
      }
    });
    sock.on('error', reject);
  });
}

describe('Host header', () => {
  it('accepts only the loopback names with this port', () => {
    expect(hostAllowed('127.0.0.1:8080', 8080)).toBe(true);
    expect(hostAllowed('LOCALHOST:8080', 8080)).toBe(true);
    expect(hostAllowed('[::1]:8080', 8080)).toBe(true);
    expect(hostAllowed('evil.example:8080', 8080)).toBe(false);
    expect(hostAllowed('127.0.0.1:8081', 8080)).toBe(false);
    expect(hostAllowed('127.0.0.1', 8080)).toBe(false);
    expect(hostAllowed('localhost.evil.example:8080', 8080)).toBe(false);
    expect(hostAllowed(undefined, 8080)).toBe(false);
  });

  it('refuses a foreign Host over HTTP and for the WebSocket upgrade, even with the token', async () => {
    const s = await serve(bulkyHost(10));
    expect(await getWithHost(s.port, `127.0.0.1:${s.port}`)).toBe(200);
    expect(await getWithHost(s.port, `localhost:${s.port}`)).toBe(200);
    expect(await getWithHost(s.port, `rebound.evil.example:${s.port}`)).toBe(403);
    expect(await getWithHost(s.port, 'rebound.evil.example')).toBe(403);
    expect(await upgradeWithHost(s, `rebound.evil.example:${s.port}`)).toBe(403);
    expect(await upgradeWithHost(s, `127.0.0.1:${s.port + 1}`)).toBe(403);
    expect(await upgradeWithHost(s, `127.0.0.1:${s.port}`)).toBe(101);
  });
});

describe('backpressure', () => {
  it('3000 unread replies: the server stops serving the client at a bound, then delivers all of them', async () => {
    const REPLY = 32 * 1024;
    const N = 3000;
    const host = bulkyHost(REPLY);
    const s = await serve(host);
    const ws = new WebSocket(`ws://${LOOPBACK}:${s.port}/rpc?token=${s.token}`);
    await new Promise((r) => ws.once('open', r));
    const got = new Set<number>();
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as { id?: number };
      if (typeof m.id === 'number') got.add(m.id);
    });
    ws.pause(); // the client stops reading
    for (let i = 1; i <= N; i++) ws.send(JSON.stringify({ id: i, method: 'runs.list', params: {} }));
    await new Promise((r) => setTimeout(r, 1500));

    // Unbounded, all 3000 × 32 KB (96 MB) would be served into the server's memory by now.
    const [load] = s.clients();
    expect(load).toBeDefined();
    expect(host.calls).toBeLessThan(N / 3);
    expect(load!.served).toBe(host.calls - load!.inFlight);
    expect(load!.paused).toBe(true);
    expect(load!.queued).toBeLessThanOrEqual(MAX_QUEUED_BURST);
    expect(load!.bufferedBytes).toBeLessThanOrEqual(CLIENT_LIMITS.highWaterBytes + CLIENT_LIMITS.maxInFlight * (REPLY + 64));
    const stalled = host.calls;
    await new Promise((r) => setTimeout(r, 500));
    expect(host.calls).toBe(stalled); // nothing more while the client does not read

    ws.resume(); // reading again: every request is answered, none lost
    const t0 = Date.now();
    while (got.size < N && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 50));
    expect(got.size).toBe(N);
    expect(host.calls).toBe(N);
    ws.close();
  });
});
