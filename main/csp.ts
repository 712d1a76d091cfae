/**
 * The page's Content-Security-Policy, one definition for the Electron window (a response header) and web mode (an
 * HTTP header): scripts only from the app's own origin, no plugins, no framing, network only to `connect`.
 * renderer/index.html carries the same policy as a meta tag for file:// loads, where no header applies.
 */

/** The policy, with `connect` added to `connect-src 'self'` (e.g. the web-mode WebSocket origin). */
export function contentSecurityPolicy(connect: readonly string[] = []): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    // Vue's :style bindings and ECharts' layout need inline styles; scripts stay strict.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    ["connect-src 'self'", ...connect].join(' '),
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
