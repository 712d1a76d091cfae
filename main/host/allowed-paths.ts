/**
 * Web mode's file boundary: any page that learns the token could otherwise name any readable file as a model or
 * input, and the host's "model file not found" would tell it which files exist. In web mode, `profile.start` may
 * only name files under allowed roots: the bundled default model's and photos' folders, the folder `pit serve` was
 * started in, and each `--allow DIR`. A path outside them is refused with the same words whether or not it exists,
 * before the host looks at it.
 */
import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { RpcError } from './rpc.ts';
import type { WebHost } from './web-server.ts';

/**
 * The roots, each resolved to its real path (symlinks followed), duplicates and missing folders dropped.
 * @param dirs candidate folders (relative ones against `cwd`).
 */
export function allowedRoots(dirs: readonly string[], cwd: string = process.cwd()): string[] {
  const out: string[] = [];
  for (const d of dirs) {
    try {
      const real = realpathSync(resolve(cwd, d));
      if (!out.includes(real)) out.push(real);
    } catch {
      // A root that does not exist allows nothing.
    }
  }
  return out;
}

function within(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * The real path of `path` as far as it exists: the longest existing ancestor resolved (symlinks followed), with the
 * missing rest appended — which cannot contain a symlink, since it does not exist.
 */
function realPrefix(path: string): string {
  let head = path;
  const tail: string[] = [];
  for (;;) {
    try {
      return resolve(realpathSync(head), ...tail.reverse());
    } catch {
      const up = dirname(head);
      if (up === head) return path;
      tail.push(head.slice(up.length).replace(/^[/\\]+/, ''));
      head = up;
    }
  }
}

/**
 * Resolves `path` (against `cwd`) and checks it lies under one of `roots`, both as written and with every symlink
 * followed (a link inside a root to a file outside is outside).
 * @returns the absolute path.
 * @throws RpcError `invalid-params` naming the path and the roots; the same words whether the file exists or not.
 */
export function checkAllowed(path: string, roots: readonly string[], what: string, cwd: string = process.cwd()): string {
  const abs = resolve(cwd, path);
  if (roots.some((r) => within(abs, r)) && roots.some((r) => within(realPrefix(abs), r))) return abs;
  throw new RpcError(
    'invalid-params',
    `profile.start: ${what} ${abs} is outside the folders web mode may read (${roots.join(', ') || 'none'}); start pit serve with --allow DIR to add one`,
  );
}

/**
 * `host` with `profile.start`'s model and input paths checked against `roots` (checkAllowed) and passed on
 * absolute; every other method unchanged.
 */
export function restrictPaths(host: WebHost, roots: readonly string[], cwd: string = process.cwd()): WebHost {
  return {
    ...host,
    onEvent: (l) => host.onEvent(l),
    ...(host.status ? { status: () => host.status!() } : {}),
    call: async (method, params) => {
      if (method !== 'profile.start' || typeof params !== 'object' || params === null || Array.isArray(params)) return host.call(method, params);
      const p = { ...(params as Record<string, unknown>) };
      if (typeof p.modelPath === 'string' && p.modelPath) p.modelPath = checkAllowed(p.modelPath, roots, 'model file', cwd);
      if (Array.isArray(p.inputs)) {
        p.inputs = p.inputs.map((x: unknown) => (typeof x === 'string' && x ? checkAllowed(x, roots, 'input file', cwd) : x));
      }
      return host.call(method, p);
    },
  };
}
