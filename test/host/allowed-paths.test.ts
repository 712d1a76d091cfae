/**
 * Web mode's file boundary: profile.start may name only files under the allowed roots, and a refusal reads the same
 * whether the file outside exists or not (no existence oracle), symlinks and `..` included.
 */
import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allowedRoots, checkAllowed, restrictPaths } from '../../main/host/allowed-paths.ts';
import type { WebHost } from '../../main/host/web-server.ts';

const base = realpathSync(mkdtempSync(join(tmpdir(), 'pit-roots-')));
const root = join(base, 'allowed');
const outside = join(base, 'outside');
mkdirSync(join(root, 'models'), { recursive: true });
mkdirSync(outside);
writeFileSync(join(root, 'models', 'm.onnx'), 'x');
writeFileSync(join(outside, 'secret.onnx'), 'x');
symlinkSync(join(outside, 'secret.onnx'), join(root, 'link.onnx'));
symlinkSync(outside, join(root, 'linkdir'));

function caught(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('checkAllowed', () => {
  const roots = allowedRoots([root, join(base, 'no-such-root')]);

  it('resolves roots to real paths and drops missing ones', () => {
    expect(roots).toEqual([root]);
  });

  it('passes files under a root, relative ones resolved against the working folder', () => {
    expect(checkAllowed(join(root, 'models', 'm.onnx'), roots, 'model file')).toBe(join(root, 'models', 'm.onnx'));
    expect(checkAllowed('models/m.onnx', roots, 'model file', root)).toBe(join(root, 'models', 'm.onnx'));
    expect(checkAllowed(join(root, 'models', 'not-yet.onnx'), roots, 'model file')).toBe(join(root, 'models', 'not-yet.onnx'));
  });

  it('refuses outside files with the same words whether they exist or not', () => {
    const existing = caught(() => checkAllowed(join(outside, 'secret.onnx'), roots, 'model file'));
    const missing = caught(() => checkAllowed(join(outside, 'nothing.onnx'), roots, 'model file'));
    expect(existing.message).toBe(
      `profile.start: model file ${join(outside, 'secret.onnx')} is outside the folders web mode may read (${root}); start pit serve with --allow DIR to add one`,
    );
    expect(missing.message.replace('nothing.onnx', 'secret.onnx')).toBe(existing.message);
    expect(existing).toMatchObject({ code: 'invalid-params' });
  });

  it('refuses `..` and symlinks that lead outside, even to files that do not exist', () => {
    expect(() => checkAllowed(join(root, '..', 'outside', 'secret.onnx'), roots, 'model file')).toThrow(/is outside the folders/);
    expect(() => checkAllowed(join(root, 'link.onnx'), roots, 'model file')).toThrow(/link\.onnx is outside the folders/);
    expect(() => checkAllowed(join(root, 'linkdir', 'secret.onnx'), roots, 'model file')).toThrow(/is outside the folders/);
    expect(() => checkAllowed(join(root, 'linkdir', 'nothing.onnx'), roots, 'model file')).toThrow(/is outside the folders/);
    expect(() => checkAllowed('/etc/passwd', roots, 'input file')).toThrow('profile.start: input file /etc/passwd is outside the folders');
  });
});

describe('restrictPaths', () => {
  it('checks profile.start before the host sees it, and passes everything else through', async () => {
    const seen: [string, unknown][] = [];
    const host: WebHost = {
      call: async (m, p) => (seen.push([m, p]), { ok: true }),
      onEvent: () => () => {},
    };
    const web = restrictPaths(host, [root], root);
    await expect(web.call('profile.start', { modelPath: join(outside, 'secret.onnx'), inputs: [] })).rejects.toMatchObject({ code: 'invalid-params' });
    await expect(web.call('profile.start', { modelPath: 'models/m.onnx', inputs: ['/etc/hostname'] })).rejects.toThrow(/input file \/etc\/hostname is outside/);
    expect(seen).toEqual([]);
    await web.call('profile.start', { modelPath: 'models/m.onnx', inputs: ['models/m.onnx'] });
    await web.call('runs.list', {});
    expect(seen).toEqual([
      ['profile.start', { modelPath: join(root, 'models', 'm.onnx'), inputs: [join(root, 'models', 'm.onnx')] }],
      ['runs.list', {}],
    ]);
  });
});
