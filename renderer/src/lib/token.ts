/** The web-mode access token, as `pit serve` hands it to the page (structural types: testable without a DOM). */

/**
 * The token of this page: from the URL fragment (`#token=…`, as `pit serve` prints it), remembered for reloads in
 * session storage, and removed from the address bar so it does not end up in screenshots, bookmarks or history.
 * @returns The token, or null when the page was opened without one.
 */
export function takeToken(
  loc: { hash: string; pathname: string; search: string },
  storage: { getItem(key: string): string | null; setItem(key: string, value: string): void },
  history: { replaceState(data: unknown, unused: string, url: string): void },
): string | null {
  const fromHash = new URLSearchParams(loc.hash.replace(/^#/, '')).get('token');
  if (fromHash) {
    storage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(null, '', loc.pathname + loc.search);
    return fromHash;
  }
  return storage.getItem(TOKEN_KEY);
}

/** Session-storage key of the token. */
export const TOKEN_KEY = 'pit-token';
