/**
 * The `verify.mjs` written into every exported kernel set: with only the `webgpu` package (dawn.node) installed
 * beside it, it runs every kernel of the set on the recorded fixtures and exits non-zero naming each kernel that
 * fails. Each kernel is checked on its own (as tinygrad's op tests check each op against a reference):
 * - zero-fill steps must leave their buffer all zero;
 * - detection must produce exactly the expected non-zero micro-tiles per block (compared as sets: the atomic
 *   append order is arbitrary);
 * - the main kernel runs on the *expected* index (not the GPU's), so a wrong C blames the main kernel only, and C
 *   must match the float64 CPU reference within the fixture's tolerance, with every element written.
 * Before any GPU work the set is checked to be as exported, and refused with exit code 2 otherwise: every WGSL
 * file's sha256 must match the manifest (an edited kernel is not the kernel that was measured and verified), every
 * fixture must parse with the element counts its shape needs (a truncated file is one line, not a RangeError), and
 * every fixture's tolerance must lie within the range derived from its own data — 16·2⁻²⁴·√K·max_i Σ_k|A_ik|·max|B|
 * (core/kernels/reference.ts `compareOutputs`), from 1/16 of it to the bound itself — so a loosened tolerance
 * cannot make a wrong kernel pass.
 */

/** Source of `verify.mjs`. */
export const VERIFY_SOURCE = String.raw`#!/usr/bin/env node
// verify.mjs — checks every kernel of this PIT Studio kernel set on its recorded fixtures.
// Needs only the 'webgpu' package (dawn.node) installed beside it:  npm install webgpu && node verify.mjs
// Exit code 0: every kernel passed; 1: a kernel failed its check on the GPU (named on stderr); 2: the set is not as
// exported (a kernel's sha256 differs from the manifest, a fixture is missing, truncated or malformed, or a fixture's
// tolerance is outside the range derived from its data: nothing is run then), or there is no GPU.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileKernel, KernelSet, parseNpy, readBuffer } from './pit-kernels.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const read = (rel) => readFileSync(join(here, rel));
const failures = [];
const fail = (kernel, what) => {
  failures.push(kernel ? kernel.id : '?');
  console.error('FAIL ' + (kernel ? kernel.id + ' (' + kernel.file + ', ' + kernel.label + ')' : '') + ': ' + what);
};

// Anything unexpected (a bug, a file changed while reading) is one line and exit 2, never a stack.
const bail = (what, err) => {
  console.error('verify: ' + what + (err ? ': ' + String((err && err.message) || err).split('\n')[0] : ''));
  process.exit(2);
};
process.on('uncaughtException', (err) => bail('internal error', err));
process.on('unhandledRejection', (err) => bail('internal error', err));

let manifest;
try {
  manifest = JSON.parse(read('manifest.json').toString('utf8'));
} catch (err) {
  bail('cannot read manifest.json', err);
}
if (!manifest || !Array.isArray(manifest.kernels) || !Array.isArray(manifest.fixtures)) bail('manifest.json is not a kernel set manifest (no kernels or fixtures list)');

// ---- The set must be as exported (exit 2 otherwise), checked before any GPU work. ----
const problems = [];
const texts = new Map();
for (const k of manifest.kernels) {
  let text;
  try {
    text = read(k.file).toString('utf8');
  } catch (err) {
    problems.push(k.file + ': cannot be read (' + String(err && err.code) + ')');
    continue;
  }
  const sha = createHash('sha256').update(text).digest('hex');
  if (sha !== k.sha256) problems.push(k.file + ' (' + k.id + ') was modified since export: sha256 ' + sha.slice(0, 12) + '…, manifest ' + String(k.sha256).slice(0, 12) + '…');
  else texts.set(k.id, text);
}
const count = (shape) => shape.reduce((a, b) => a * b, 1);
/** The tolerance compareOutputs derives for C = A·B (A [m,k] row-major, B [k,n]). */
function derivedTolerance(a, b, m, k) {
  let rowMax = 0;
  for (let i = 0; i < m; i++) {
    let s = 0;
    for (let p = 0; p < k; p++) s += Math.abs(a(i, p));
    if (s > rowMax) rowMax = s;
  }
  let bMax = 0;
  for (let i = 0; i < b.length; i++) if (Math.abs(b[i]) > bMax) bMax = Math.abs(b[i]);
  return 16 * 2 ** -24 * Math.sqrt(Math.max(1, k)) * rowMax * bMax + 1e-30;
}
const loaded = new Map(); // fixture id -> { data, expected }
for (const fx of manifest.fixtures) {
  const where = 'fixture ' + fx.id;
  const { m, n, k } = fx.shape || {};
  const sizes = { a: m * k, at: k * m, b: k * n, c: m * n };
  const parse = (files) => {
    const out = {};
    for (const [name, file] of Object.entries(files || {})) {
      const arr = parseNpy(read(file)).data;
      if (name in sizes && arr.length !== sizes[name]) throw new Error(file + ' has ' + arr.length + ' elements, shape ' + m + 'x' + n + 'x' + k + ' needs ' + sizes[name]);
      out[name] = arr;
    }
    return out;
  };
  let data;
  let expected;
  try {
    data = parse(fx.inputs);
    expected = parse(fx.expected);
  } catch (err) {
    problems.push(where + ': ' + String(err && err.message).split('\n')[0]);
    continue;
  }
  if (!(data.a || data.at) || !data.b || !expected.c) {
    problems.push(where + ': missing A, B or the expected C');
    continue;
  }
  const at = data.at;
  const a = at ? (i, p) => at[p * m + i] : (i, p) => data.a[i * k + p];
  const derived = derivedTolerance(a, data.b, m, k);
  if (!(typeof fx.tolerance === 'number' && fx.tolerance >= derived / 16 && fx.tolerance <= derived * (1 + 1e-9))) {
    problems.push(where + ': tolerance ' + fx.tolerance + ' is outside the range derived from its data [' + (derived / 16).toExponential(3) + ', ' + derived.toExponential(3) + ']');
    continue;
  }
  loaded.set(fx.id, { data, expected });
}
if (problems.length) {
  for (const p of problems) console.error('NOT AS EXPORTED: ' + p);
  console.error('verify: the set is not as exported (' + problems.length + ' problem(s)): nothing was run; re-export it');
  process.exit(2);
}

// ---- A GPU device. ----
let gpu;
let device;
try {
  const require = createRequire(join(here, 'verify.mjs'));
  const webgpu = require('webgpu');
  for (const [k, v] of Object.entries(webgpu.globals)) if (!(k in globalThis)) globalThis[k] = v;
  gpu = webgpu.create([]); // kept referenced for the life of the process (dawn.node crashes if it is collected)
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter (install a Vulkan, Metal or D3D12 driver)');
  device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
      maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: adapter.limits.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: adapter.limits.maxComputeWorkgroupSizeY,
      maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
    },
  });
} catch (err) {
  bail('no WebGPU device', err);
}

const kernels = new Map(manifest.kernels.map((k) => [k.id, k]));
const pipelines = new Map();
for (const k of manifest.kernels) {
  try {
    pipelines.set(k.id, await compileKernel(device, k, texts.get(k.id)));
  } catch (err) {
    fail(k, err.message);
  }
}
const set = new KernelSet(device, manifest, pipelines);

const sortedBlock = (index, stride, j, n) => Array.from(index.subarray(j * stride, j * stride + n)).sort((x, y) => x - y);

/** Runs one step alone on bufs (name -> GPUBuffer). */
async function runStep(step, bufs) {
  const enc = device.createCommandEncoder();
  const params = set.encode(enc, { steps: [step] }, bufs);
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
  for (const p of params) p.destroy();
}

function storage(words, fill) {
  const buf = device.createBuffer({ size: Math.max(4, words * 4), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, mappedAtCreation: true });
  const u32 = new Uint32Array(buf.getMappedRange());
  if (fill instanceof Float32Array || fill instanceof Uint32Array) u32.set(new Uint32Array(fill.buffer, fill.byteOffset, fill.length));
  else u32.fill(0x7fc00000);
  buf.unmap();
  return buf;
}

let checked = 0;
for (const fx of manifest.fixtures) {
  const plan = fx.plan;
  const broken = plan.steps.map((s) => s.kernel).filter((id) => !pipelines.has(id));
  if (broken.length) {
    console.error('skip fixture ' + fx.id + ' (' + fx.layer + '): kernel(s) ' + [...new Set(broken)].join(', ') + ' did not compile');
    continue;
  }
  const { data, expected } = loaded.get(fx.id);
  const bufs = {};
  const specs = new Map(plan.buffers.map((b) => [b.name, b]));
  for (const b of plan.buffers) bufs[b.name] = storage(count(b.shape), data[b.name]);
  const failedHere = failures.length;
  try {
    // Layout phase (a transpose the producer of A does not do): no check of its own, the detection and C check it.
    for (const step of plan.steps.filter((s) => s.phase === 'layout')) await runStep(step, bufs);
    // Detection phase: each zero-fill must clear its buffer; detection must find exactly the expected micro-tiles.
    for (const step of plan.steps.filter((s) => s.phase === 'detect')) {
      const k = kernels.get(step.kernel);
      await runStep(step, bufs);
      if (k.role === 'fill') {
        const name = step.buffers[0];
        const got = await readBuffer(device, bufs[name], count(specs.get(name).shape), 'u32');
        const bad = got.findIndex((x) => x !== 0);
        if (bad >= 0) fail(k, 'fixture ' + fx.id + ': ' + name + '[' + bad + '] = ' + got[bad] + ' after zero-fill');
      } else {
        const cnt = await readBuffer(device, bufs.count, expected.count.length, 'u32');
        const idx = await readBuffer(device, bufs.index, expected.index.length, 'u32');
        const stride = expected.index.length / expected.count.length;
        for (let j = 0; j < expected.count.length; j++) {
          const want = sortedBlock(expected.index, stride, j, expected.count[j]);
          const got = cnt[j] === expected.count[j] ? sortedBlock(idx, stride, j, cnt[j]) : null;
          if (!got || got.join() !== want.join()) {
            fail(k, 'fixture ' + fx.id + ': block ' + j + ' lists ' + cnt[j] + ' micro-tiles, expected ' + expected.count[j] + (got ? ' (different ones)' : ''));
            break;
          }
        }
      }
    }
    // Compute phase on the expected index, so a wrong C can only come from the compute kernels.
    if (expected.count) {
      device.queue.writeBuffer(bufs.count, 0, expected.count);
      device.queue.writeBuffer(bufs.index, 0, expected.index);
    }
    // C is final after the last compute step (a split-K plan writes partial sums, then a reduction writes C); a
    // wrong C is blamed on the variant's own kernel.
    const computeSteps = plan.steps.filter((s) => s.phase === 'compute');
    const lastMain = computeSteps.map((s) => kernels.get(s.kernel).role !== 'fill').lastIndexOf(true);
    for (const [si, step] of computeSteps.entries()) {
      const k = kernels.get(step.kernel);
      await runStep(step, bufs);
      if (k.role === 'fill') {
        const name = step.buffers[0];
        const got = await readBuffer(device, bufs[name], count(specs.get(name).shape), 'u32');
        const bad = got.findIndex((x) => x !== 0);
        if (bad >= 0) fail(k, 'fixture ' + fx.id + ': ' + name + '[' + bad + '] is not zero after zero-fill');
        continue;
      }
      if (si !== lastMain) continue;
      const blamed = kernels.get(plan.kernel) || k;
      const c = await readBuffer(device, bufs.c, expected.c.length, 'f32');
      let worst = 0;
      let at = -1;
      for (let i = 0; i < c.length; i++) {
        const d = Number.isFinite(c[i]) ? Math.abs(c[i] - expected.c[i]) : Infinity;
        if (d > worst || (at < 0 && d > 0)) {
          worst = d;
          at = i;
        }
      }
      if (!(worst <= fx.tolerance)) {
        fail(blamed, 'fixture ' + fx.id + ' (' + fx.shape.m + 'x' + fx.shape.n + 'x' + fx.shape.k + '): C[' + at + '] = ' + c[at] + ', reference ' + expected.c[at] + ' (|error| ' + worst.toExponential(2) + ' > tolerance ' + fx.tolerance.toExponential(2) + ')');
      }
    }
  } catch (err) {
    fail(null, 'fixture ' + fx.id + ': ' + String(err && err.message).split('\n')[0]);
  } finally {
    for (const b of Object.values(bufs)) b.destroy();
  }
  checked++;
  if (failures.length === failedHere) console.log('ok   ' + fx.id + ' (' + fx.layer + ', ' + plan.variant + '): ' + [...new Set(plan.steps.map((s) => s.kernel))].join(', '));
}

device.destroy();
const bad = [...new Set(failures)];
if (bad.length) {
  console.error('verify: FAILED — ' + bad.length + ' kernel(s): ' + bad.join(', '));
  process.exit(1);
}
console.log('verify: ' + checked + ' fixtures, ' + manifest.kernels.length + ' kernels: all passed');
process.exit(0);
`;
