/** The web-mode token: read from the URL fragment, kept for reloads, removed from the address bar. */
import { describe, expect, it } from 'vitest';
import { takeToken, TOKEN_KEY } from '../../renderer/src/lib/token.ts';

function env(hash: string) {
  const store = new Map<string, string>();
  const replaced: string[] = [];
  return {
    loc: { hash, pathname: '/', search: '' },
    storage: { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) },
    history: { replaceState: (_d: unknown, _u: string, url: string) => void replaced.push(url) },
    store,
    replaced,
  };
}

describe('takeToken', () => {
  it('takes the token from the fragment, stores it and cleans the address bar', () => {
    const e = env('#token=abc_DEF-123');
    expect(takeToken(e.loc, e.storage, e.history)).toBe('abc_DEF-123');
    expect(e.store.get(TOKEN_KEY)).toBe('abc_DEF-123');
    expect(e.replaced).toEqual(['/']);
  });

  it('falls back to the stored token after a reload, and to null without one', () => {
    const e = env('');
    expect(takeToken(e.loc, e.storage, e.history)).toBeNull();
    e.store.set(TOKEN_KEY, 'kept');
    expect(takeToken(e.loc, e.storage, e.history)).toBe('kept');
    expect(e.replaced).toEqual([]);
  });
});
