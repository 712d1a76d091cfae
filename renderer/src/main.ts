/**
 * The renderer's entry: picks the transport (the preload bridge in Electron, a WebSocket to `pit serve` in a
 * browser) and mounts the same app on either.
 */
import { createPinia } from 'pinia';
import { createApp } from 'vue';
import App from './App.vue';
import './charts.ts';
import './style.css';
import { useHostStore } from './stores/host.ts';
import { bridgeTransport } from './transport/bridge.ts';
import type { Transport } from './transport/types.ts';
import { takeToken } from './lib/token.ts';
import { webSocketTransport } from './transport/websocket.ts';

function pickTransport(): Transport | string {
  if (window.pit) return bridgeTransport(window.pit);
  const token = takeToken(window.location, window.sessionStorage, window.history);
  if (!token) return 'No access token: open the URL that `pit serve` printed (it ends with #token=…).';
  const proto = window.location.protocol === 'https:' ? 'wss' : 'ws';
  return webSocketTransport(`${proto}://${window.location.host}/rpc?token=${encodeURIComponent(token)}`);
}

const app = createApp(App);
app.use(createPinia());
const host = useHostStore();
const t = pickTransport();
if (typeof t === 'string') host.status = { state: 'failed', message: t, restarts: 0 };
else host.connect(t);
app.mount('#app');
