/**
 * The `verify.mjs` written into every exported kernel set: with only the `webgpu` package (dawn.node) installed
 * beside it, it runs every kernel of the set on the recorded fixtures and exits non-zero naming each kernel that
 * fails. Each kernel is checked on its own (as tinygrad's op tests check each op against a reference):
 * - zero-fill steps must leave their buffer all zero;
 * - detection must produce exactly the expected non-zero micro-tiles per block (compared as sets: the atomic
 *   append order is arbitrary);
 * - the main kernel runs on the *expected* index (not the GPU's), so a wrong C blames the main kernel only, and C
 *   must match the float64 CPU reference within the fixture's tolerance, with every element written.
 * A WGSL file whose sha256 differs from the manifest is reported as modified (the numeric checks decide pass/fail).
 */

/** Source of `verify.mjs`. */
export const VERIFY_SOURCE = String.raw`#!/usr/bin/env node
// verify.mjs — checks every kernel of this PIT Studio kernel set on its recorded fixtures.
// Needs only the 'webgpu' package (dawn.node) installed beside it:  npm install webgpu && node verify.mjs
// Exit code 0: every kernel passed; 1: a kernel failed (named on stderr); 2: the set could not be read or no GPU.
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

let manifest;
try {
  manifest = JSON.parse(read('manifest.json').toString('utf8'));
} catch (err) {
  console.error('verify: cannot read manifest.json: ' + err.message);
  process.exit(2);
}

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
  console.error('verify: no WebGPU device: ' + String(err && err.message).split('\n')[0]);
  process.exit(2);
}

const kernels = new Map(manifest.kernels.map((k) => [k.id, k]));
const pipelines = new Map();
for (const k of manifest.kernels) {
  let text;
  try {
    text = read(k.file).toString('utf8');
  } catch (err) {
    fail(k, 'cannot read ' + k.file + ': ' + err.message);
    continue;
  }
  const sha = createHash('sha256').update(text).digest('hex');
  if (sha !== k.sha256) console.error('note: ' + k.file + ' was modified since export (sha256 ' + sha.slice(0, 12) + '…, manifest ' + k.sha256.slice(0, 12) + '…)');
  try {
    pipelines.set(k.id, await compileKernel(device, k, text));
  } catch (err) {
    fail(k, err.message);
  }
}
const set = new KernelSet(device, manifest, pipelines);

const count = (shape) => shape.reduce((a, b) => a * b, 1);
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
  const data = {};
  for (const [name, file] of Object.entries(fx.inputs)) data[name] = parseNpy(read(file)).data;
  const expected = {};
  for (const [name, file] of Object.entries(fx.expected)) expected[name] = parseNpy(read(file)).data;
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
    for (const step of plan.steps.filter((s) => s.phase === 'compute')) {
      const k = kernels.get(step.kernel);
      await runStep(step, bufs);
      if (k.role === 'fill') {
        const name = step.buffers[0];
        const got = await readBuffer(device, bufs[name], count(specs.get(name).shape), 'u32');
        const bad = got.findIndex((x) => x !== 0);
        if (bad >= 0) fail(k, 'fixture ' + fx.id + ': ' + name + '[' + bad + '] is not zero after zero-fill');
        continue;
      }
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
        fail(k, 'fixture ' + fx.id + ' (' + fx.shape.m + 'x' + fx.shape.n + 'x' + fx.shape.k + '): C[' + at + '] = ' + c[at] + ', reference ' + expected.c[at] + ' (|error| ' + worst.toExponential(2) + ' > tolerance ' + fx.tolerance.toExponential(2) + ')');
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
