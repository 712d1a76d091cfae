/** `pit serve`: web mode — the host serves the app and its WebSocket API on 127.0.0.1, for any browser. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { defaultDbPath } from '../../db/open.ts';
import { createHost } from '../host/create.ts';
import { startWebServer } from '../host/web-server.ts';
import { DB_HELP, isDefaultLocation, positiveInt, UsageError, type Command } from './common.ts';

/**
 * Where the built renderer is: `$PIT_RENDERER_DIR`, else `out/renderer` next to this bundle (out/cli/pit.mjs) or
 * of the source tree (main/commands/serve.ts under tsx). Null when it is not built.
 */
export function findRendererDir(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.PIT_RENDERER_DIR) return existsSync(join(env.PIT_RENDERER_DIR, 'index.html')) ? resolve(env.PIT_RENDERER_DIR) : null;
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [resolve(here, '..', 'renderer'), resolve(here, '..', '..', 'out', 'renderer')];
  return candidates.find((d) => existsSync(join(d, 'index.html'))) ?? null;
}

/** Opens `url` in the desktop's browser; failures are reported, not fatal (the URL is printed anyway). */
function openBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  const child = spawn(cmd, [url], { detached: true, stdio: 'ignore' });
  child.on('error', (e) => console.error(`pit serve: cannot open a browser (${cmd}: ${e.message}); open the URL yourself`));
  child.unref();
}

/** The `pit serve` subcommand (registered in main/cli.ts). */
export const serveCommand: Command = {
  name: 'serve',
  summary: 'web mode: serve the app on 127.0.0.1 for any browser',
  help: `Usage: pit serve [--port N] [--db FILE] [--open]

Runs the PIT host (the profiling core and the run database) and serves the app's UI and its WebSocket API on
127.0.0.1 only. A random token is made at every start; the printed URL carries it (after #), and the API refuses
connections without it. Stop with Ctrl-C: a job in flight is cancelled and its run marked incomplete.

Options:
  --port N            TCP port (default: a free one)
${DB_HELP}
  --open              open the URL in the default browser
  -h, --help          show this help

Environment:
  PIT_RENDERER_DIR    the built UI (default: out/renderer; build it with \`npm run build:renderer\`)

The first stdout line is the URL to open: http://127.0.0.1:PORT/#token=TOKEN`,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        db: { type: 'string' },
        open: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) return console.log(this.help), 0;
    const port = values.port === '0' ? 0 : positiveInt('port', values.port, 0);
    if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`);
    const dbPath = values.db ?? defaultDbPath();
    const staticDir = findRendererDir();
    const host = createHost(dbPath, { createDirs: isDefaultLocation(values.db) });
    let server;
    try {
      server = await startWebServer({ host: host.service, port, staticDir });
    } catch (e) {
      await host.close();
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EADDRINUSE') throw new Error(`port ${port} is in use: pick another with --port, or omit it for a free one`);
      throw e;
    }
    console.log(server.url);
    console.error(`pit serve: database ${dbPath}`);
    if (!staticDir) console.error('pit serve: the UI is not built (npm run build:renderer): serving the WebSocket API only');
    console.error('pit serve: listening on 127.0.0.1 only; Ctrl-C stops');
    if (values.open) openBrowser(server.url);

    await new Promise<void>((done) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        done();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    console.error('pit serve: stopping');
    await server.close();
    await host.close();
    return 0;
  },
};
