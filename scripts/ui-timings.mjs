#!/usr/bin/env node
// UI timings in web mode, for before/after comparisons on the same machine and the same stored run:
//   page load   — navigation start until the Runs table lists the run (host connected, runs.list answered, painted);
//   run open    — click on the run's Open until the first layer's name, heat map and variants table are painted;
//   step        — → in the Layers view until the next layer's name and variants table are painted (median of N).
// Each figure is measured inside the page (performance.now() and two animation frames after the DOM shows the
// result), so Playwright's own round trips are not counted. Prints one JSON object.
//
// Usage: node scripts/ui-timings.mjs --db FILE --run ID [--cli out/cli/pit.mjs] [--renderer out/renderer]
//                                    [--steps 10] [--loads 3]
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from '@playwright/test';

const { values } = parseArgs({
  options: {
    db: { type: 'string' },
    run: { type: 'string' },
    cli: { type: 'string', default: 'out/cli/pit.mjs' },
    renderer: { type: 'string', default: 'out/renderer' },
    steps: { type: 'string', default: '10' },
    loads: { type: 'string', default: '3' },
    width: { type: 'string', default: '1280' },
    height: { type: 'string', default: '800' },
  },
});
if (!values.db || !values.run) {
  console.error('usage: node scripts/ui-timings.mjs --db FILE --run ID [--cli FILE] [--renderer DIR] [--steps N] [--loads N]');
  process.exit(2);
}
const runId = Number(values.run);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// The CLI bundle exports main() (bin/pit.mjs runs out/cli/pit.mjs the same way); any build can be timed.
const boot = `const { main } = await import(${JSON.stringify(pathToFileURL(resolve(values.cli)).href)}); process.exitCode = await main(['serve', '--db', ${JSON.stringify(resolve(values.db))}]);`;
const server = spawn(process.execPath, ['--input-type=module', '-e', boot], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, PIT_RENDERER_DIR: resolve(values.renderer) },
});
const url = await new Promise((ok, fail) => {
  server.once('exit', (c) => fail(new Error(`pit serve exited (${c})`)));
  createInterface({ input: server.stdout }).once('line', (l) => ok(l.trim()));
});

// Waits (in the page) until `done()` holds, then two animation frames (the frame with the result is painted).
const WAIT = `(done) => new Promise((ok) => {
  const tick = () => (done() ? requestAnimationFrame(() => requestAnimationFrame(() => ok(performance.now()))) : setTimeout(tick, 2));
  tick();
})`;

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const out = { url: url.replace(/#.*/, ''), run: runId, viewport: `${values.width}x${values.height}`, pageLoadMs: [], runOpenMs: [], stepMs: [] };
try {
  for (let i = 0; i < Number(values.loads); i++) {
    const context = await browser.newContext({ viewport: { width: Number(values.width), height: Number(values.height) } });
    const page = await context.newPage();
    await page.goto(url, { waitUntil: 'commit' });
    const loaded = await page.evaluate(`(${WAIT})(() => document.querySelector('[data-testid="open-run-${runId}"]'))`);
    out.pageLoadMs.push(loaded); // performance.now() counts from navigation start

    const opened = await page.evaluate(`(async () => {
      const t0 = performance.now();
      document.querySelector('[data-testid="open-run-${runId}"]').click();
      const t1 = await (${WAIT})(() => {
        const name = document.querySelector('[data-testid="layer-name"]');
        return name && name.textContent && document.querySelector('[data-testid="heatmap"]') && document.querySelector('[data-testid="variants-table"] tbody tr');
      });
      return t1 - t0;
    })()`);
    out.runOpenMs.push(opened);

    if (i === 0) {
      for (let s = 0; s < Number(values.steps); s++) {
        const ms = await page.evaluate(`(async () => {
          const before = document.querySelector('[data-testid="layer-name"]').textContent;
          const t0 = performance.now();
          window.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }));
          const t1 = await (${WAIT})(() => {
            const name = document.querySelector('[data-testid="layer-name"]');
            return name && name.textContent !== before;
          });
          return t1 - t0;
        })()`);
        out.stepMs.push(ms);
        await page.waitForTimeout(300); // let the layer's kernels and WGSL arrive before the next step
      }
    }
    await context.close();
  }
} finally {
  await browser.close();
  server.kill('SIGTERM');
}
const r = (x) => Math.round(x * 10) / 10;
console.log(
  JSON.stringify(
    {
      ...out,
      pageLoadMs: out.pageLoadMs.map(r),
      runOpenMs: out.runOpenMs.map(r),
      stepMs: out.stepMs.map(r),
      median: { pageLoadMs: r(median(out.pageLoadMs)), runOpenMs: r(median(out.runOpenMs)), stepMs: r(median(out.stepMs)) },
    },
    null,
    2,
  ),
);
