/** `pit serve`: web mode — the host serves the app and its WebSocket API on 127.0.0.1, for any browser. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { defaultInputs } from '../../core/inputs/default.ts';
import { defaultDbPath, openDatabase } from '../../db/open.ts';
import { allowedRoots, restrictPaths } from '../host/allowed-paths.ts';
import { markRunsOfCrashedJobs, supervisedWebHost } from '../host/supervised-host.ts';
import { HostSupervisor } from '../host/supervisor.ts';
import { startWebServer } from '../host/web-server.ts';
import { DB_HELP, isDefaultLocation, positiveInt, UsageError, VERBOSE_HELP, type Command } from './common.ts';

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

/**
 * The host process's script: out/cli/host.mjs beside this bundle (scripts/build-cli.mjs), or main/host/main.ts run
 * with tsx when this runs from source.
 * @throws Error when neither exists (the CLI is not built).
 */
export function hostEntry(): { entry: string; execArgv: string[] } {
  const here = dirname(fileURLToPath(import.meta.url));
  const bundled = join(here, 'host.mjs');
  if (existsSync(bundled)) return { entry: bundled, execArgv: [] };
  const source = resolve(here, '..', 'host', 'main.ts');
  if (existsSync(source)) return { entry: source, execArgv: ['--import', 'tsx'] };
  throw new Error(`the host process script is missing (${bundled}): run \`npm run build:cli\``);
}

/** The folders of the bundled default model and photos (allowed roots in web mode); none when not installed. */
function defaultFolders(): string[] {
  try {
    const d = defaultInputs();
    return [dirname(d.modelPath), ...d.inputs.map((p) => dirname(p))];
  } catch {
    return [];
  }
}

/** Opens `url` in the desktop's browser; failures are reported, not fatal (the URL is printed anyway). */
function openBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  const child = spawn(cmd, [url], { detached: true, stdio: 'ignore' });
  child.on('error', (e) => console.error(`pit serve: cannot open a browser (${cmd}: ${e.message}); open the URL yourself`));
  child.unref();
}

/** Starts the supervisor and waits for its first host to be ready. @throws Error with the reason it did not start. */
async function startHost(s: HostSupervisor): Promise<void> {
  await new Promise<void>((ok, fail) => {
    const off = s.on('status', (st) => {
      if (st.state === 'ready') {
        off();
        ok();
      } else if (st.state === 'restarting' || st.state === 'failed') {
        off();
        fail(new Error(`the PIT host did not start: ${st.message.replace(/; restarting in .*$/, '')}`));
      }
    });
    s.start();
  });
}

/** The `pit serve` subcommand (registered in main/cli.ts). */
export const serveCommand: Command = {
  name: 'serve',
  summary: 'web mode: serve the app on 127.0.0.1 for any browser',
  help: `Usage: pit serve [--port N] [--db FILE] [--allow DIR...] [--open]

Runs the PIT host (the profiling core and the run database) and serves the app's UI and its WebSocket API on
127.0.0.1 only. A random token is made at every start; the printed URL carries it (after #), and the API refuses
connections without it, from another origin, or naming another host than 127.0.0.1, localhost or [::1] with this
port. The host runs in a child process: a profile or tune that crashes it (a GPU driver fault) marks its run
incomplete with the reason, the host restarts, and the server keeps serving. Stop with Ctrl-C or SIGTERM: a job in
flight is cancelled and its run marked incomplete.

Files: the app may profile models and inputs only under these folders — the folder pit serve was started in, the
bundled default model's and photos' folders, and every --allow DIR. Other paths are refused (with the same answer
whether or not the file exists).

Options:
  --port N            TCP port (default: a free one)
${DB_HELP}
  --allow DIR         also allow models and inputs under DIR (repeatable)
  --open              open the URL in the default browser
${VERBOSE_HELP}
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
        allow: { type: 'string', multiple: true },
        open: { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) return console.log(this.help), 0;
    const port = values.port === '0' ? 0 : positiveInt('port', values.port, 0);
    if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`);
    for (const dir of values.allow ?? []) if (!existsSync(dir)) throw new UsageError(`--allow ${dir}: no such folder`);
    const dbPath = resolve(values.db ?? defaultDbPath());
    // Opened here once so a bad --db is one line and exit 1, before any process is started.
    openDatabase(dbPath, { createDirs: isDefaultLocation(values.db) }).close();
    const roots = allowedRoots([process.cwd(), ...defaultFolders(), ...(values.allow ?? [])]);
    const staticDir = findRendererDir();

    const { entry, execArgv } = hostEntry();
    const supervisor = new HostSupervisor({
      execPath: process.execPath,
      execArgv,
      entry,
      args: ['--db', dbPath],
      ...(values.verbose ? { dropLines: null } : {}),
    });
    supervisor.on('log', (line) => console.error(`pit serve: [host] ${line}`));
    const log = (line: string) => console.error(`pit serve: ${line}`);
    markRunsOfCrashedJobs(supervisor, dbPath, log);
    await startHost(supervisor).catch(async (e: unknown) => {
      await supervisor.stop(1000);
      throw e;
    });
    log(supervisor.status.message);
    supervisor.on('status', (st) => log(`host ${st.state}: ${st.message}`));

    let server;
    try {
      server = await startWebServer({ host: restrictPaths(supervisedWebHost(supervisor), roots), port, staticDir });
    } catch (e) {
      await supervisor.stop();
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EADDRINUSE') throw new Error(`port ${port} is in use: pick another with --port, or omit it for a free one`);
      throw e;
    }
    console.log(server.url);
    log(`database ${dbPath}`);
    log(`models and inputs allowed under: ${roots.join(', ')}`);
    if (!staticDir) log('the UI is not built (npm run build:renderer): serving the WebSocket API only');
    log('listening on 127.0.0.1 only; Ctrl-C stops');
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
    log('stopping');
    await server.close();
    await supervisor.stop();
    return 0;
  },
};
