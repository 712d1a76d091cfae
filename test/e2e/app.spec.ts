/**
 * The app in web mode against a real host (global-setup.ts): profile the bundled model on one photo at a small
 * resolution with progress, step through layers by keyboard, export CSV, survive a bad model file, compare two
 * runs, delete one, tune a corner of the tile database with progress and chart it, profile with the tile-database
 * policy and audit, and refuse a wrong token. Issue 13: the Model, Graph and Timeline views on that run, spread and
 * settings, Compare refusing runs whose settings differ, the heat map at A's aspect ratio with its overlays, captioned
 * PNG exports, incremental updates of a run being written, WGSL fetched once, gzip and the favicon, and every view at
 * 1280×800 and 1920×1080 without horizontal overflow and without a critical or serious axe-core violation.
 * Screenshots of each view go to test-results/screenshots; with PIT_UPDATE_SCREENSHOTS=1 the README's are copied to
 * docs/screenshots/.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import AxeBuilder from '@axe-core/playwright';
import { join, resolve } from 'node:path';
import { expect, test, type BrowserContext, type Locator, type Page } from '@playwright/test';
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

/** Copies a screenshot to docs/screenshots for the README, when asked (so running the tests leaves the tree clean). */
function publish(file: string, name: string): void {
  if (!process.env.PIT_UPDATE_SCREENSHOTS) return;
  mkdirSync(join(root, 'docs', 'screenshots'), { recursive: true });
  copyFileSync(file, join(root, 'docs', 'screenshots', `${name}.png`));
}

/** Every request the page sent over the WebSocket, in order: `{ method, params }`. */
const sent: { method: string; params: Record<string, unknown> }[] = [];

/** How many of `method` the page has sent so far. */
const sentCount = (method: string) => sent.filter((m) => m.method === method).length;

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
let context: BrowserContext;
const runIds: number[] = [];

test.beforeAll(async ({ browser }) => {
  // A context of our own (not browser.newPage()): axe-core's Playwright runner opens a page in it to finish a scan.
  context = await browser.newContext();
  page = await context.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  page.on('websocket', (ws) =>
    ws.on('framesent', (f) => {
      try {
        const m = JSON.parse(String(f.payload)) as { method?: string; params?: Record<string, unknown> };
        if (m.method) sent.push({ method: m.method, params: m.params ?? {} });
      } catch {
        // not a request
      }
    }),
  );
});

test.afterAll(async () => {
  await page.close();
  await context.close();
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
  let skippedSeen = 0;
  for (const key of ['', 'ArrowRight', 'j', 'j', 'ArrowRight']) {
    const before = await name.textContent();
    if (key) {
      await page.keyboard.press(key);
      await expect(name).not.toHaveText(before!);
    }
    const current = (await name.textContent())!;
    const item = page.locator('[data-testid^="layer-item-"][aria-current="true"]');
    await expect(item).toContainText(current);
    // A profiled layer shows its matmul; a skipped one says why, with no shape of zeros.
    if (await page.getByTestId('layer-skipped').isVisible()) {
      await expect(page.getByTestId('layer-skipped')).toContainText('Not profiled: grouped conv');
      await expect(shape).toHaveCount(0);
      skippedSeen++;
    } else await expect(shape).toHaveText(/C\[\d+×\d+\] = A\[\d+×\d+\] · B\[\d+×\d+\]/);
    if (await heatmap.isVisible()) {
      expect(Number(await heatmap.getAttribute('data-cells'))).toBeGreaterThan(0);
      expect(await ink(heatmap)).toBeGreaterThan(0.5);
      heatmapsChecked++;
    }
    seen.push(current);
  }
  expect(new Set(seen).size).toBe(seen.length);
  expect(heatmapsChecked).toBeGreaterThanOrEqual(2);
  // Every layer of the default model is profiled now (its depthwise convs as batched matmuls): none is skipped.
  expect(skippedSeen).toBe(0);

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
  // The same WGSL is never requested twice (each hash once, however often its layer is shown).
  const hashes = sent.filter((m) => m.method === 'wgsl.get').map((m) => m.params.hash);
  expect(hashes.length).toBeGreaterThan(0);
  expect(new Set(hashes).size).toBe(hashes.length);
  // The run was read once, lean: no whole-run re-reads, heat maps one layer at a time.
  expect(sentCount('runs.get')).toBe(0);
  expect(sent.filter((m) => m.method === 'runs.layers').map((m) => m.params)).toEqual([{ id: runIds[0], since: 0 }]);
  expect(sentCount('runs.heatmap')).toBeGreaterThanOrEqual(2);
  publish(await shot(page, 'layers'), 'layers');

  const csv = await download(page, () => page.getByTestId('export-csv').click());
  expect(csv.name).toBe(`pit-run-${runIds[0]}.csv`);
  const lines = csv.text.trim().split(/\r\n/);
  expect(lines[0]).toContain('input,layer,name,op,M,N,K,sparsity');
  expect(lines.length).toBe(1 + Number(QUICK.maxLayers));
  // The exported chart carries its caption (title, run, layer, adapter) in a band above the chart.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-png').click()]);
  expect(dl.suggestedFilename()).toMatch(new RegExp(`^pit-run-${runIds[0]}-p2o\\.Conv\\.0-input0-variants\\.png$`));
  const exported = PNG.sync.read(readFileSync(await dl.path()));
  const chartBox = (await page.getByTestId('variants-chart').boundingBox())!;
  expect(exported.height).toBeGreaterThan(chartBox.height * 2 + 80); // 2× pixels plus the caption band
  let captionInk = 0;
  for (let y = 0; y < 90; y++) for (let x = 0; x < exported.width; x++) if (exported.data[(y * exported.width + x) * 4]! < 128) captionInk++;
  expect(captionInk).toBeGreaterThan(500);
});

test('the heat map keeps A\'s aspect ratio and overlays the micro-tile grid and what the rule gathers', async () => {
  // Layer 0 of the 64-px run: a tall A (M = 32·32/… rows, K = 27 columns).
  const heatmap = page.getByTestId('heatmap');
  const shape = (await page.getByTestId('layer-shape').textContent())!;
  const [, m, k] = shape.match(/A\[(\d+)×(\d+)\]/)!.map(Number);
  const w = Number(await heatmap.getAttribute('data-width'));
  const h = Number(await heatmap.getAttribute('data-height'));
  if (w > 24 && h > 24) expect(w / h).toBeCloseTo(k! / m!, 1);
  else expect(m! > k! ? h > w : w > h).toBe(true); // too thin to be to scale: still the right way round
  await expect(page.getByTestId('heatmap-overlay')).toContainText('dense, every');
  // A PIT rule: its micro-tile grid and the gathered computation tiles.
  const pit = (await page.getByTestId('overlay-variant').locator('option').allTextContents()).find((t) => t.startsWith('pit-k'));
  expect(pit).toBeTruthy();
  await page.getByTestId('overlay-variant').selectOption({ label: pit! });
  await expect(page.getByTestId('heatmap-grid')).toContainText(/grid: micro-tile \d+×1/);
  await expect(page.getByTestId('heatmap-overlay')).toContainText('the columns holding a non-zero are gathered');
  expect(Number(await heatmap.getAttribute('data-gathered'))).toBeGreaterThan(0);
  await page.getByTestId('overlay-gather').uncheck();
  await expect(page.getByTestId('heatmap-overlay')).toHaveCount(0);
  await page.getByTestId('overlay-gather').check();
});

test('Model view: the run as a whole, with a sortable, filterable layer table that opens layers', async () => {
  await page.getByTestId('nav-model').click();
  await expect(page.getByTestId('view-model')).toBeVisible();
  await expect(page.getByTestId('model-summary')).toContainText('Σ of medians');
  await expect(page.getByTestId('model-settings')).toContainText('image size 64 px');
  await expect(page.getByTestId('model-settings')).toContainText('repeat 1');
  // Reference model time, measured by this run.
  await expect(page.getByTestId('model-summary')).toContainText('whole model, this input');
  const top = page.getByTestId('top-chart');
  expect(Number(await top.getAttribute('data-bars'))).toBeGreaterThanOrEqual(3);
  expect(await ink(top)).toBeGreaterThan(0.02);
  await expect(page.getByTestId('rollup-op')).toHaveAttribute('data-bars', '1');
  expect(Number(await page.getByTestId('scatter-chart').getAttribute('data-points'))).toBeGreaterThanOrEqual(3);
  // Skipped layers are grouped by reason (test/renderer/model.test.ts) and never shown as a shape of zeros; every layer
  // of the default model is profiled now (depthwise convs as batched matmuls), so there is no group here.
  await expect(page.getByTestId('skipped-group')).toHaveCount(0);
  const table = page.getByTestId('layer-table');
  await expect(table).not.toContainText('0×0×0');
  const rows = table.locator('tbody tr');
  await expect(rows).toHaveCount(Number(QUICK.maxLayers));
  // Sort by chosen time, slowest first.
  await page.getByTestId('lt-sort-chosenMs').click();
  await expect(page.getByTestId('lt-sort-chosenMs').locator('..')).toHaveAttribute('aria-sort', 'descending');
  const times = async () =>
    (await rows.locator('td:nth-child(6)').allTextContents())
      .filter((t) => /\d/.test(t))
      .map((t) => Number(t.split(' ')[0]) * (t.includes('µs') ? 1e-3 : 1));
  const desc = await times();
  expect(desc.length).toBeGreaterThan(2);
  expect([...desc].sort((x, y) => y - x)).toEqual(desc);
  // Filter by status: every layer of this model runs (grouped convs through the batched lowering), none is skipped.
  await page.getByTestId('layer-status').selectOption('profiled');
  await expect(rows).toHaveCount(Number(QUICK.maxLayers));
  await page.getByTestId('layer-status').selectOption('skipped');
  await expect(rows).toHaveCount(0);
  await expect(page.getByTestId('layer-count')).toHaveText(`0 of ${QUICK.maxLayers} layers`);
  await page.getByTestId('layer-status').selectOption('all');
  await page.getByTestId('layer-filter').fill('Conv.2');
  await expect(rows).toHaveCount(1);
  await expect(page.getByTestId('layer-count')).toHaveText(`1 of ${QUICK.maxLayers} layers`);
  await shot(page, 'model-filtered');
  // A row opens its layer in Layers (Enter from the keyboard).
  await rows.first().focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('view-layers')).toBeVisible();
  await expect(page.getByTestId('layer-name')).toHaveText('p2o.Conv.2');
  await page.getByTestId('nav-model').click();
  await page.getByTestId('layer-filter').fill('');
  await page.getByTestId('lt-sort-index').click();
  publish(await shot(page, 'model'), 'model');
});

test('Graph view: the model laid out, nodes coloured by sparsity or gain, attributes on hover, click opens the layer', async () => {
  await page.getByTestId('nav-graph').click();
  const svg = page.getByTestId('graph-svg');
  await expect(svg).toBeVisible({ timeout: 60_000 });
  expect(Number(await svg.getAttribute('data-nodes'))).toBe(332); // 330 operators, the input and the output
  expect(Number(await svg.getAttribute('data-edges'))).toBeGreaterThan(330);
  await expect(page.getByTestId('graph-summary')).toContainText('330 operators (342 constants folded), 64 of them matmul-like layers');
  const node0 = page.getByTestId('graph-node-0');
  const bySparsity = await node0.getAttribute('data-fill');
  await page.getByTestId('graph-colour').selectOption('gain');
  await expect(node0).not.toHaveAttribute('data-fill', bySparsity!);
  await node0.hover();
  await expect(page.getByTestId('graph-tip')).toContainText('p2o.Conv.0 (Conv)');
  await expect(page.getByTestId('graph-tip')).toContainText('strides: [2, 2]');
  await expect(page.getByTestId('graph-tip')).toContainText('layer 0: M×N×K');
  await page.getByTestId('graph-colour').selectOption('sparsity');
  publish(await shot(page, 'graph'), 'graph');
  await page.getByTestId('graph-node-2').click();
  await expect(page.getByTestId('view-layers')).toBeVisible();
  await expect(page.getByTestId('layer-name')).toHaveText('p2o.Conv.2');
});

test('Timeline view: reference run, chosen lane and family lanes; the Perfetto JSON downloads', async () => {
  await page.getByTestId('nav-timeline').click();
  const chart = page.getByTestId('timeline-chart');
  await expect(chart).toBeVisible();
  expect(Number(await chart.getAttribute('data-rows'))).toBeGreaterThanOrEqual(5);
  expect(Number(await chart.getAttribute('data-bars'))).toBeGreaterThan(20);
  await expect(page.getByTestId('timeline-summary')).toContainText(/chosen lane .* ms · reference \d/);
  expect(await ink(chart)).toBeGreaterThan(0.05);
  const json = await download(page, () => page.getByTestId('timeline-export-json').click());
  expect(json.name).toBe(`pit-run-${runIds[0]}.trace.json`);
  const trace = JSON.parse(json.text) as { traceEvents: { ph: string; cat?: string }[]; metadata: Record<string, unknown> };
  expect(trace.traceEvents.filter((e) => e.ph === 'X' && e.cat === 'reference')).toHaveLength(1);
  expect(trace.traceEvents.filter((e) => e.ph === 'X' && e.cat === 'readback').length).toBeGreaterThan(0);
  expect(trace.metadata.run).toBe(runIds[0]);
  publish(await shot(page, 'timeline'), 'timeline');
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
  // Same settings but the families: the difference is headlined, and the settings table shows what differs.
  await expect(page.getByTestId('compare-headline')).toBeVisible();
  await expect(page.getByTestId('setting-imageSize')).toContainText('64 px');
  await expect(page.getByTestId('setting-families')).toHaveClass(/differs/);
  await expect(page.getByTestId('setting-imageSize')).not.toHaveClass(/differs/);

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
  publish(await shot(page, 'compare'), 'compare');

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
  await expect(page.getByTestId(`run-settings-${lo}`)).toHaveText('64 px · f32 · measure · median ×1');
  publish(await shot(page, 'runs'), 'runs');
});

test('Compare refuses to headline a difference between runs whose settings differ, and says which', async () => {
  await startQuickDefault(page, { maxLayers: '3', imageSize: '96' });
  await expect(page.getByTestId('job-status')).toHaveText('complete');
  await page.getByTestId('nav-runs').click();
  const rows = page.getByTestId('runs-table').locator('tbody tr');
  await expect(rows).toHaveCount(2);
  for (const row of await rows.all()) await row.locator('input[type="checkbox"]').check();
  await page.getByTestId('compare-selected').click();
  await expect(page.getByTestId('compare-refused')).toContainText('Not comparable: image size 64 px vs 96 px');
  await expect(page.getByTestId('compare-headline')).toHaveCount(0);
  await expect(page.getByTestId('setting-imageSize')).toHaveClass(/differs/);
  // The layers still line up for looking, shapes marked where they changed.
  await expect(page.getByTestId('compare-table')).toContainText('*');
  // The compared layers filter like every layer list.
  await page.getByTestId('compare-filter').fill('Conv.2');
  await expect(page.getByTestId('compare-table').locator('tbody tr')).toHaveCount(1);
  await expect(page.getByTestId('compare-count')).toHaveText(`1 of ${Number(QUICK.maxLayers)} layers`);
  await page.getByTestId('compare-filter').fill('');
  await shot(page, 'compare-refused');
});

test('follows a run being written incrementally, then cancels it; the run keeps its finished layers', async () => {
  // Every layer at 320 px with every variant: tens of seconds on lavapipe, so the cancel surely lands in flight
  // (it takes effect after the layer being measured).
  await startQuickDefault(page, { variants: ['dense', 'pit-k', 'pit-m'], maxLayers: '0', imageSize: '320' });
  await expect(page.getByTestId('progress-table').locator('tbody tr').first()).toBeVisible();
  // Open the run while it is written: it grows by what changed (runs.layers since a cursor), never re-read whole.
  const before = sent.length;
  await page.getByTestId('open-job-run').click();
  await expect(page.getByTestId('view-layers')).toBeVisible();
  const items = page.locator('[data-testid^="layer-item-"]');
  await expect(items.first()).toBeVisible();
  const first = await items.count();
  await expect.poll(async () => items.count(), { timeout: 60_000 }).toBeGreaterThan(first);
  const reads = () => sent.slice(before).filter((m) => m.method === 'runs.layers').map((m) => Number(m.params.since));
  await expect.poll(() => reads().length).toBeGreaterThan(1);
  const since = reads();
  expect(since[0]).toBe(0);
  expect(since.slice(1).every((c) => c > 0)).toBe(true);
  expect(sent.slice(before).filter((m) => m.method === 'runs.get')).toHaveLength(0);
  await page.getByTestId('nav-new').click();
  await page.getByTestId('cancel').click();
  await expect(page.getByTestId('job-status')).toHaveText('cancelled');
  const done = Number((await page.getByTestId('progress-count').textContent())!.split('/')[0]);
  const total = Number((await page.getByTestId('progress-count').textContent())!.split('/')[1]!.split(' ')[0]);
  expect(done).toBeGreaterThan(0);
  expect(done).toBeLessThan(total);
  await page.getByTestId('nav-runs').click();
  const row = page.getByTestId('runs-table').locator('tbody tr').first();
  await expect(row).toContainText('cancelled');
  await expect(row.locator('td').nth(7)).toHaveText(String(done));
  // The run page says why the other layers are missing.
  await page.getByTestId(`open-run-${Number((await row.getAttribute('data-testid'))!.replace('run-row-', ''))}`).click();
  await expect(page.getByTestId('layer-name')).toHaveText('p2o.Conv.0');
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
  // Every tuning configuration of the registered families (dense, pit-k and pit-m alone have 12); each is legal at
  // both sizes, so the plan, the chart and the table all count them.
  await expect(page.getByTestId('tune-planned')).toContainText(/^\d+ points over \d+ configurations/);
  const plannedText = (await page.getByTestId('tune-planned').textContent())!.trim();
  const planned = Number(plannedText.split(' ')[0]);
  const configs = Number(/over (\d+) configurations/.exec(plannedText)![1]);
  expect(configs).toBeGreaterThanOrEqual(12);
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
  expect(Number(await chart.getAttribute('data-series'))).toBe(configs);
  expect(await ink(chart)).toBeGreaterThan(0.02);
  await expect(page.getByTestId('tiledb-table').locator('tbody tr')).toHaveCount(configs);
  await expect(page.getByTestId('tiledb-table')).toContainText('reference');
  await expect(page.getByTestId('tiledb-table').locator('tbody tr').first().locator('td').last()).toHaveText(/^\d+\.\d %/); // the fitted model's error
  await dismissNotices(page);
  publish(await shot(page, 'tiledb'), 'tiledb');

  // The other size charts too (pit-m 1x16…1x64 are legal at K = 96 as well).
  await page.getByTestId('tiledb-size').selectOption('4x32x96');
  await expect(page.getByTestId('tiledb-table')).toContainText('pit-m 1x64');
  await expect(chart).toHaveAttribute('data-series', String(configs));
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
  // The operand dtype of the run (issue 11): the default model's weights are float32.
  await expect(page.getByTestId('run-dtype')).toHaveText('f32');
  await expect(page.getByTestId('layer-predicted')).toContainText('predicted');
  await expect(page.getByTestId('layer-regret')).toContainText('%');
  await expect(page.getByTestId('layer-policy-0')).toContainText('regret');
  await expect(page.getByTestId('policy-candidates').locator('tbody tr').first()).toBeVisible();
  // What happened to the prediction, in words that match the verdicts (never "failed" for one that verified).
  await expect(page.getByTestId('why')).toContainText(
    /predicted fastest by the tile database|the predicted .* (failed: |verified but measured slower|verified but could not be told apart|was not measured|cannot explain)/,
  );
  await dismissNotices(page);
  await shot(page, 'layers-tiledb');
});

/** The views, in tab order, with the test id of what shows each one is drawn. */
const VIEWS: { name: string; ready: string }[] = [
  { name: 'runs', ready: 'runs-table' },
  { name: 'new', ready: 'progress' },
  { name: 'model', ready: 'top-chart' },
  { name: 'layers', ready: 'variants-chart' },
  { name: 'graph', ready: 'graph-svg' },
  { name: 'timeline', ready: 'timeline-chart' },
  { name: 'compare', ready: 'compare-table' },
  { name: 'tiledb', ready: 'tiledb-chart' },
];

test('every view at 1280×800 and 1920×1080: no horizontal overflow, no critical or serious axe-core violation', async () => {
  test.setTimeout(300_000);
  await dismissNotices(page);
  const problems: string[] = [];
  for (const [width, height] of [
    [1280, 800],
    [1920, 1080],
  ] as const) {
    await page.setViewportSize({ width, height });
    for (const v of VIEWS) {
      await page.getByTestId(`nav-${v.name}`).click();
      await expect(page.getByTestId(`view-${v.name}`)).toBeVisible();
      await expect(page.getByTestId(v.ready).first()).toBeVisible({ timeout: 60_000 });
      await page.waitForTimeout(300); // charts resize to the viewport on the next frame
      const [scroll, client] = (await page.evaluate('[document.documentElement.scrollWidth, document.documentElement.clientWidth]')) as [number, number];
      if (scroll > client) problems.push(`${v.name} at ${width}×${height}: ${scroll - client} px of horizontal overflow`);
      const axe = await new AxeBuilder({ page }).analyze();
      for (const x of axe.violations.filter((x) => x.impact === 'critical' || x.impact === 'serious')) {
        problems.push(`${v.name} at ${width}×${height}: axe ${x.impact} ${x.id} (${x.nodes.length}): ${x.nodes[0]?.target.join(' ')} ${x.help}`);
      }
      await shot(page, `${v.name}-${width}x${height}`);
    }
  }
  // The header does not wrap at 1280: one line of tabs.
  await page.setViewportSize({ width: 1280, height: 800 });
  const tabs = await page.locator('nav .tab').evaluateAll((els) => [...new Set(els.map((e) => Math.round(e.getBoundingClientRect().top)))]);
  expect(tabs).toHaveLength(1);
  expect(problems).toEqual([]);
  await page.setViewportSize({ width: 1440, height: 900 });
});

test('web mode serves the bundle gzipped and a favicon', async () => {
  const origin = serverUrl().origin;
  const index = await page.request.get(`${origin}/`);
  const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(await index.text())![1]!;
  const gz = await page.request.get(`${origin}/${script}`, { headers: { 'Accept-Encoding': 'gzip' } });
  expect(gz.status()).toBe(200);
  expect(gz.headers()['content-encoding']).toBe('gzip');
  const icon = await page.request.get(`${origin}/favicon.ico`);
  expect(icon.status()).toBe(200);
  expect(icon.headers()['content-type']).toBe('image/svg+xml');
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
