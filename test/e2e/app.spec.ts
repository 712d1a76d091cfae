/**
 * The app in web mode against a real host (global-setup.ts): profile the bundled model on one photo at a small
 * resolution with progress, step through layers by keyboard, export CSV, survive a bad model file, compare two
 * runs, delete one, tune a corner of the tile database with progress and chart it, profile with the tile-database
 * policy and audit, and refuse a wrong token. Screenshots of each view go to test-results/screenshots; the Layers
 * one is also copied to docs/screenshots/layers.png for the README when PIT_UPDATE_SCREENSHOTS=1.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, test, type Locator, type Page } from '@playwright/test';
import { PNG } from 'pngjs';
import WebSocket from 'ws';

const root = resolve(import.meta.dirname, '..', '..');
const shots = join(root, 'test-results', 'screenshots');
/** A real photo shipped with the default job (also used as a bad "model"). */
const PHOTO = join(root, 'node_modules', '@vladmandic', 'face-api', 'demo', 'sample1.jpg');

/** Small enough for lavapipe: a 64-pixel image, a few layers, one timed run per variant. */
const QUICK = { imageSize: '64', maxLayers: '8', repeat: '1', warmup: '0' };

function serverUrl(): URL {
  const u = process.env.PIT_E2E_URL;
  if (!u) throw new Error('PIT_E2E_URL is not set: global-setup.ts did not run');
  return new URL(u);
}

async function shot(page: Page, name: string): Promise<string> {
  mkdirSync(shots, { recursive: true });
  const file = join(shots, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Fraction 0–1 of an element's pixels that are not (near-)white background. */
async function ink(locator: Locator): Promise<number> {
  const png = PNG.sync.read(await locator.screenshot());
  let n = 0;
  for (let i = 0; i < png.width * png.height; i++) {
    const [r, g, b] = [png.data[i * 4]!, png.data[i * 4 + 1]!, png.data[i * 4 + 2]!];
    if (r < 240 || g < 240 || b < 240) n++;
  }
  return n / (png.width * png.height);
}

/** Closes the notices at the bottom of the window (for clean screenshots); info notices may also go by themselves. */
async function dismissNotices(page: Page): Promise<void> {
  const close = page.getByTestId('notice').getByRole('button');
  for (let i = 0; i < 10 && (await close.count()) > 0; i++) await close.first().click({ timeout: 2000 }).catch(() => {});
}

async function download(page: Page, click: () => Promise<void>): Promise<{ name: string; text: string }> {
  const [dl] = await Promise.all([page.waitForEvent('download'), click()]);
  return { name: dl.suggestedFilename(), text: readFileSync(await dl.path(), 'utf8') };
}

/**
 * Fills the New-profile form for a job on the bundled model and the first bundled photo, and starts it: QUICK
 * unless `opts` says otherwise; `variants` ticks exactly those (dense always runs).
 */
async function startQuickDefault(
  page: Page,
  opts: { variants?: string[]; maxLayers?: string; imageSize?: string; policy?: '' | 'tiledb' | 'measure'; audit?: boolean } = {},
): Promise<void> {
  const { variants, maxLayers = QUICK.maxLayers, imageSize = QUICK.imageSize } = opts;
  await page.getByTestId('nav-new').click();
  await expect(page.getByTestId('bundled-sample1.jpg')).toBeVisible();
  await page.getByTestId('use-default').check();
  await page.getByTestId('bundled-sample1.jpg').check();
  await page.getByTestId('bundled-sample6.jpg').uncheck();
  await page.getByTestId('inputs').fill('');
  if (variants) {
    for (const box of await page.locator('[data-testid^="variant-"]:not([disabled])').all()) {
      const name = (await box.getAttribute('data-testid'))!.slice('variant-'.length);
      await box.setChecked(variants.includes(name));
    }
  }
  await page.getByTestId('image-size').fill(imageSize);
  await page.getByTestId('max-layers').fill(maxLayers);
  await page.getByTestId('repeat').fill(QUICK.repeat);
  await page.getByTestId('warmup').fill(QUICK.warmup);
  if (opts.policy !== undefined) await page.getByTestId('policy').selectOption(opts.policy);
  if (opts.audit !== undefined) await page.getByTestId('audit').setChecked(opts.audit);
  await page.getByTestId('start').click();
}

test.describe.configure({ mode: 'serial' });

let page: Page;
const runIds: number[] = [];

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
});

test.afterAll(async () => {
  await page.close();
});

test('opens on Runs, connected to the host and its adapter', async () => {
  await page.goto(serverUrl().href);
  await expect(page.getByTestId('host-status')).toHaveClass(/ready/);
  await expect(page.getByTestId('runs-empty')).toBeVisible();
  // The token leaves the address bar once read (kept for reloads in sessionStorage).
  expect(page.url()).not.toContain('token=');
  await page.reload();
  await expect(page.getByTestId('host-status')).toHaveClass(/ready/);
});

/** Records every text the progress counter and ETA show (a string script: the spec is type-checked without DOM types). */
const RECORD_PROGRESS = `(() => {
  window.__pitProgress = [];
  new MutationObserver(() => {
    const count = document.querySelector('[data-testid="progress-count"]');
    const eta = document.querySelector('[data-testid="eta"]');
    if (count) window.__pitProgress.push(count.textContent + '|' + (eta ? eta.textContent : ''));
  }).observe(document.body, { subtree: true, childList: true, characterData: true });
})()`;

test('profiles the default model on one input with progress, and the run is listed', async () => {
  await page.evaluate(RECORD_PROGRESS);
  await startQuickDefault(page);
  await expect(page.getByTestId('job-status')).toHaveText('complete');
  // Progress was streamed: the counter went through intermediate values, each with an ETA.
  const seen = (await page.evaluate('window.__pitProgress')) as string[];
  const partial = seen.filter((t) => /^(\d+)\/(\d+) layers\|ETA \d/.test(t) && Number(t.split('/')[0]) < Number(t.split('/')[1]!.split(' ')[0]));
  expect(partial.length).toBeGreaterThan(0);
  const count = (await page.getByTestId('progress-count').textContent())!;
  const [done, total] = count.split(' ')[0]!.split('/').map(Number);
  expect(total).toBeGreaterThanOrEqual(3);
  expect(done).toBe(total);
  await expect(page.getByTestId('progress-table').locator('tbody tr')).toHaveCount(total!);
  await expect(page.getByTestId('progress-table')).toContainText('p2o.Conv.0');
  await shot(page, 'new-profile');

  await page.getByTestId('nav-runs').click();
  const rows = page.getByTestId('runs-table').locator('tbody tr');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('complete');
  await expect(rows.first()).toContainText('llvmpipe');
  runIds.push(Number((await rows.first().getAttribute('data-testid'))!.replace('run-row-', '')));
});

test('steps through layers with the keyboard; the panel follows; CSV export', async () => {
  await page.getByTestId(`open-run-${runIds[0]}`).click();
  await expect(page.getByTestId('view-layers')).toBeVisible();
  const name = page.getByTestId('layer-name');
  const shape = page.getByTestId('layer-shape');
  const heatmap = page.getByTestId('heatmap');
  await expect(name).toHaveText('p2o.Conv.0');

  const seen: string[] = [];
  let heatmapsChecked = 0;
  for (const key of ['', 'ArrowRight', 'j', 'j', 'ArrowRight']) {
    const before = await name.textContent();
    if (key) {
      await page.keyboard.press(key);
      await expect(name).not.toHaveText(before!);
    }
    const current = (await name.textContent())!;
    const item = page.locator('[data-testid^="layer-item-"][aria-current="true"]');
    await expect(item).toContainText(current);
    await expect(shape).toHaveText(/C\[\d+×\d+\] = A\[\d+×\d+\] · B\[\d+×\d+\]/);
    if (await heatmap.isVisible()) {
      expect(Number(await heatmap.getAttribute('data-cells'))).toBeGreaterThan(0);
      expect(await ink(heatmap)).toBeGreaterThan(0.5);
      heatmapsChecked++;
    }
    seen.push(current);
  }
  expect(new Set(seen).size).toBe(seen.length);
  expect(heatmapsChecked).toBeGreaterThanOrEqual(2);

  // Back with ← and k.
  await page.keyboard.press('ArrowLeft');
  await expect(name).toHaveText(seen[3]!);
  await page.keyboard.press('k');
  await expect(name).toHaveText(seen[2]!);
  await page.keyboard.press('Home');
  await expect(name).toHaveText(seen[0]!);

  // A profiled layer: variants, the choice explained, highlighted WGSL.
  // The dense tiles for the shape (the baseline is the fastest), pit-k and pit-m.
  expect(await page.getByTestId('variants-table').locator('tbody tr').count()).toBeGreaterThanOrEqual(3);
  await expect(page.getByTestId('why')).toContainText('baseline');
  await expect(page.getByTestId('wgsl')).toContainText('fn ');
  await expect(page.getByTestId('wgsl').locator('.t-keyword').first()).toBeVisible();
  const layersShot = await shot(page, 'layers');
  // The README's picture is refreshed on request only, so that running the tests leaves the work tree clean.
  if (process.env.PIT_UPDATE_SCREENSHOTS) {
    mkdirSync(join(root, 'docs', 'screenshots'), { recursive: true });
    copyFileSync(layersShot, join(root, 'docs', 'screenshots', 'layers.png'));
  }

  const csv = await download(page, () => page.getByTestId('export-csv').click());
  expect(csv.name).toBe(`pit-run-${runIds[0]}.csv`);
  const lines = csv.text.trim().split(/\r\n/);
  expect(lines[0]).toContain('input,layer,name,op,M,N,K,sparsity');
  expect(lines.length).toBe(1 + Number(QUICK.maxLayers));
  const png = await download(page, () => page.getByTestId('export-png').click());
  expect(png.name).toMatch(/\.png$/);
});

test('a bad model file gives a readable error and the app keeps working', async () => {
  await page.getByTestId('nav-new').click();
  await page.getByTestId('use-default').uncheck();
  await page.getByTestId('bundled-sample1.jpg').uncheck();
  await page.getByTestId('bundled-sample6.jpg').uncheck();
  // Under the folder pit serve was started in (an allowed root), a missing file is named as such…
  await page.getByTestId('model-path').fill(join(root, 'nonexistent', 'model.onnx'));
  await page.getByTestId('inputs').fill(PHOTO);
  await page.getByTestId('start').click();
  await expect(page.getByTestId('profile-error')).toHaveText(`model file not found: ${join(root, 'nonexistent', 'model.onnx')}`);
  // …outside the allowed folders, existing or not, web mode does not say (no file-existence oracle).
  for (const outside of ['/etc/hostname', '/nonexistent/model.onnx']) {
    await page.getByTestId('model-path').fill(outside);
    await page.getByTestId('start').click();
    await expect(page.getByTestId('profile-error')).toContainText(`model file ${outside} is outside the folders web mode may read`);
  }

  // A file that exists but is not ONNX fails inside the job: the host's ModelError, on one line.
  await page.getByTestId('model-path').fill(PHOTO);
  await page.getByTestId('start').click();
  await expect(page.getByTestId('job-status')).toHaveText('failed');
  await expect(page.getByTestId('profile-error')).toContainText('ModelError');
  expect((await page.getByTestId('profile-error').textContent())!.trim()).not.toContain('\n');
  await shot(page, 'bad-model');

  // Still working: a second quick run (dense and pit-k only) completes.
  await startQuickDefault(page, { variants: ['dense', 'pit-k'] });
  await expect(page.getByTestId('job-status')).toHaveText('complete');
  await expect(page.getByTestId('profile-error')).toHaveCount(0);
});

test('compares two runs, sorts by Δ, exports CSV, then deletes a run', async () => {
  await page.getByTestId('nav-runs').click();
  const rows = page.getByTestId('runs-table').locator('tbody tr');
  await expect(rows).toHaveCount(2);
  for (const row of await rows.all()) await row.locator('input[type="checkbox"]').check();
  const ids = await Promise.all((await rows.all()).map(async (r) => Number((await r.getAttribute('data-testid'))!.replace('run-row-', ''))));
  await page.getByTestId('compare-selected').click();
  await expect(page.getByTestId('view-compare')).toBeVisible();
  const table = page.getByTestId('compare-table').locator('tbody tr');
  await expect(table).toHaveCount(Number(QUICK.maxLayers));
  await expect(page.getByTestId('compare-totals')).toContainText('B − A');

  await page.getByTestId('sort-deltaMs').click();
  const deltas = async () =>
    (await page.getByTestId('compare-table').locator('tbody tr td:nth-child(6)').allTextContents())
      .filter((t) => t !== '—')
      .map((t) => Number(t.replace('−', '-').replace(/[^\d.+-]/g, '')) * (t.includes('µs') ? 1e-3 : 1));
  const asc = await deltas();
  expect(asc.length).toBeGreaterThan(0);
  expect([...asc].sort((x, y) => x - y)).toEqual(asc);
  await page.getByTestId('sort-deltaMs').click();
  const desc = await deltas();
  expect([...desc].sort((x, y) => y - x)).toEqual(desc);
  await shot(page, 'compare');

  const csv = await download(page, () => page.getByTestId('compare-export-csv').click());
  const [lo, hi] = [...ids].sort((x, y) => x - y);
  expect(csv.name).toBe(`pit-compare-${lo}-vs-${hi}.csv`);
  const lines = csv.text.trim().split(/\r\n/);
  expect(lines[0]).toContain('delta ms,delta fraction');
  expect(lines.length).toBe(1 + Number(QUICK.maxLayers));

  // Delete the newer run: the first click asks, the second deletes.
  await page.getByTestId('nav-runs').click();
  await page.getByTestId(`delete-run-${hi}`).click();
  await expect(page.getByTestId(`delete-run-${hi}`)).toHaveText('Delete?');
  await page.getByTestId(`delete-run-${hi}`).click();
  await expect(page.getByTestId('runs-table').locator('tbody tr')).toHaveCount(1);
  await shot(page, 'runs');
});

test('cancels a running job; the run keeps its finished layers and says cancelled', async () => {
  // Every layer at 320 px with every variant: tens of seconds on lavapipe, so the cancel surely lands in flight
  // (it takes effect after the layer being measured).
  await startQuickDefault(page, { variants: ['dense', 'pit-k', 'pit-m'], maxLayers: '0', imageSize: '320' });
  await expect(page.getByTestId('progress-table').locator('tbody tr').first()).toBeVisible();
  await page.getByTestId('cancel').click();
  await expect(page.getByTestId('job-status')).toHaveText('cancelled');
  const done = Number((await page.getByTestId('progress-count').textContent())!.split('/')[0]);
  const total = Number((await page.getByTestId('progress-count').textContent())!.split('/')[1]!.split(' ')[0]);
  expect(done).toBeGreaterThan(0);
  expect(done).toBeLessThan(total);
  await page.getByTestId('nav-runs').click();
  const row = page.getByTestId('runs-table').locator('tbody tr').first();
  await expect(row).toContainText('cancelled');
  await expect(row.locator('td').nth(6)).toHaveText(String(done));
});

/** Records every text the tune counter and ETA show. */
const RECORD_TUNE = `(() => {
  window.__pitTune = [];
  new MutationObserver(() => {
    const count = document.querySelector('[data-testid="tune-count"]');
    const eta = document.querySelector('[data-testid="tune-eta"]');
    if (count) window.__pitTune.push(count.textContent + '|' + (eta ? eta.textContent : ''));
  }).observe(document.body, { subtree: true, childList: true, characterData: true });
})()`;

/** Two sizes of the quick plan, every sparsity and configuration: a few seconds on lavapipe. */
const TUNE_SIZES = ['4x32x96', '32x128x256'];

test('tile database: none fits at first; tune part of the quick plan with progress; chart it; cancel a longer tune', async () => {
  // Before any tune the New-profile form says auto will measure, and why.
  await page.getByTestId('nav-new').click();
  await expect(page.getByTestId('policy-note')).toContainText('No tile database yet: auto measures every variant.');

  await page.getByTestId('nav-tiledb').click();
  await expect(page.getByTestId('view-tiledb')).toBeVisible();
  await expect(page.getByTestId('tiledb-none')).toBeVisible();
  await expect(page.getByTestId('tiledb-chart-empty')).toBeVisible();
  await expect(page.getByTestId('tune-quick')).toBeChecked();
  for (const box of await page.locator('[data-testid^="tune-size-"]').all()) {
    const size = (await box.getAttribute('data-testid'))!.slice('tune-size-'.length);
    await box.setChecked(TUNE_SIZES.includes(size));
  }
  await expect(page.getByTestId('tune-planned')).toContainText(/^\d+ points over 14 configurations/);
  const planned = Number((await page.getByTestId('tune-planned').textContent())!.trim().split(' ')[0]);
  expect(planned).toBeGreaterThan(100);

  await page.evaluate(RECORD_TUNE);
  await page.getByTestId('tune-start').click();
  await expect(page.getByTestId('tune-status')).toHaveText('complete', { timeout: 60_000 });
  await expect(page.getByTestId('tune-count')).toHaveText(`${planned}/${planned} points`);
  // Progress was streamed: the counter went through intermediate values, each with an ETA.
  const seen = (await page.evaluate('window.__pitTune')) as string[];
  expect(seen.filter((t) => /^(\d+)\/(\d+) points\|ETA \d/.test(t) && Number(t.split('/')[0]) < planned).length).toBeGreaterThan(0);

  // The key of the new database, used by profiles from now on, and its chart: one line per configuration.
  await expect(page.getByTestId('tiledb-current')).toHaveText('profiles use it');
  await expect(page.getByTestId('tiledb-points')).toHaveText(String(planned));
  await expect(page.getByTestId('tiledb-hash')).toHaveText(/^[0-9a-f]{16}…$/);
  const chart = page.getByTestId('tiledb-chart');
  await expect(chart).toBeVisible();
  // The chart followed the tune from its first size; the larger one says more.
  await page.getByTestId('tiledb-size').selectOption('32x128x256');
  // One series and row per configuration of the quick plan: 14 since the narrow-N dense tiles (issue 11).
  expect(Number(await chart.getAttribute('data-series'))).toBe(14);
  expect(await ink(chart)).toBeGreaterThan(0.02);
  await expect(page.getByTestId('tiledb-table').locator('tbody tr')).toHaveCount(14);
  await expect(page.getByTestId('tiledb-table')).toContainText('reference');
  await expect(page.getByTestId('tiledb-table').locator('tbody tr').first().locator('td').last()).toHaveText(/^\d+\.\d %/); // the fitted model's error
  await dismissNotices(page);
  await shot(page, 'tiledb');

  // The other size charts too (pit-m 1x16…1x64 are legal at K = 96 as well).
  await page.getByTestId('tiledb-size').selectOption('4x32x96');
  await expect(page.getByTestId('tiledb-table')).toContainText('pit-m 1x64');
  await expect(chart).toHaveAttribute('data-series', '14');
  await page.getByTestId('tiledb-size').selectOption('32x128x256');

  // The whole quick plan resumes (the points above are skipped); cancelled once progress shows, it keeps its points.
  await page.getByTestId('tune-size-2x24x8').check();
  await page.getByTestId('tune-size-1024x32x96').check();
  await page.getByTestId('tune-start').click();
  await expect(page.getByTestId('tune-status')).toHaveText('running');
  await expect(page.getByTestId('tune-count')).toHaveText(/^[1-9]\d*\/\d+ points$/, { timeout: 30_000 });
  await page.getByTestId('tune-cancel').click();
  await expect(page.getByTestId('tune-status')).toHaveText('cancelled');
  await expect(page.getByTestId('tune-message')).toContainText(`${planned} already stored`);
  const measured = Number((await page.getByTestId('tune-message').textContent())!.match(/(\d+) points measured/)![1]);
  expect(measured).toBeGreaterThan(0);
  await expect(page.getByTestId('tiledb-points')).toHaveText(String(planned + measured));
});

test('a profile predicts from the tile database by default; the Layers view shows prediction and regret', async () => {
  await page.getByTestId('nav-new').click();
  await expect(page.getByTestId('policy-note')).toContainText(/Tile database #\d+ \(\d+ points/);
  await startQuickDefault(page, { maxLayers: '3', policy: '', audit: true });
  await expect(page.getByTestId('job-status')).toHaveText('complete');
  await expect(page.getByTestId('job-notes')).toContainText('policy tiledb (audit: every candidate measured)');
  await page.getByTestId('open-job-run').click();
  await expect(page.getByTestId('view-layers')).toBeVisible();
  await expect(page.getByTestId('run-policy')).toHaveText('tile-database policy + audit');
  await expect(page.getByTestId('layer-predicted')).toContainText('predicted');
  await expect(page.getByTestId('layer-regret')).toContainText('%');
  await expect(page.getByTestId('layer-policy-0')).toContainText('regret');
  await expect(page.getByTestId('policy-candidates').locator('tbody tr').first()).toBeVisible();
  await expect(page.getByTestId('why')).toContainText(/predicted fastest by the tile database|the predicted .* failed/);
  await dismissNotices(page);
  await shot(page, 'layers-tiledb');
});

test('the WebSocket endpoint refuses a wrong token; the page says so', async ({ browser }) => {
  const url = serverUrl();
  const token = new URLSearchParams(url.hash.slice(1)).get('token')!;
  const connect = (t: string, origin?: string) =>
    new Promise<{ status: number; info?: unknown }>((done) => {
      const ws = new WebSocket(`ws://${url.host}/rpc?token=${encodeURIComponent(t)}`, origin ? { origin } : {});
      ws.on('unexpected-response', (_req, res) => done({ status: res.statusCode ?? 0 }));
      ws.on('open', () => ws.send(JSON.stringify({ id: 1, method: 'host.info', params: {} })));
      ws.on('message', (m) => {
        const msg = JSON.parse(String(m));
        if (msg.id === 1) {
          ws.close();
          done({ status: 101, info: msg.result });
        }
      });
      ws.on('error', () => {});
    });
  expect((await connect('wrong-token')).status).toBe(401);
  expect((await connect('')).status).toBe(401);
  expect((await connect(token, 'http://evil.example')).status).toBe(403);
  const ok = await connect(token);
  expect(ok.status).toBe(101);
  expect(ok.info).toMatchObject({ version: expect.any(String) });

  const other = await browser.newPage();
  await other.goto(`${url.origin}/#token=wrong-token`);
  await expect(other.getByTestId('host-banner')).toContainText('refused');
  await expect(other.getByTestId('host-status')).toHaveClass(/failed/);
  await shot(other, 'wrong-token');
  await other.close();
});
