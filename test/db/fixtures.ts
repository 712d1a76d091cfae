/** Shared fixtures of the db tests: temp databases and a small, hand-computed run. */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AdapterDescriptor, InputRef, ModelRef } from '../../core/protocol.ts';
import type { KernelSource, NewRun, RecordedLayer } from '../../db/runs.ts';

/** A fresh temp directory, removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'pit-db-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function kernel(label: string, body: string): KernelSource {
  const wgsl = `// ${label}\n@compute @workgroup_size(64) fn main() { ${body} }\n`;
  return { hash: createHash('sha256').update(wgsl).digest('hex'), label, wgsl };
}

export const K_DENSE = kernel('dense 64x64x32', 'let a = 1u;');
export const K_DETECT = kernel('detect 32x1', 'let b = 2u;');
export const K_PITK = kernel('pit-k 32x1 64x64x32', 'let c = 3u;');

export const ADAPTER: AdapterDescriptor = {
  vendor: 'mesa',
  architecture: 'cpu',
  device: 'llvmpipe (LLVM 19.1.7, 256 bits)',
  description: 'lavapipe',
  backend: 'vulkan',
  timestampQuery: true,
};

export const MODEL: ModelRef = { path: '/models/det.onnx', sha256: 'ab'.repeat(32) };

export const INPUTS: InputRef[] = [
  { path: '/photos/a.jpg', kind: 'image', shape: [1, 3, 320, 256], preprocess: 'resize 320, normalize imagenet', synthetic: false },
  { path: '/tmp/x.npy', kind: 'npy', shape: [1, 3, 64, 64], preprocess: '', synthetic: true },
];

export function newRun(over: Partial<NewRun> = {}): NewRun {
  return { model: MODEL, adapter: ADAPTER, inputs: INPUTS, families: ['dense', 'pit-k', 'bcsr'], repeat: 5, options: { warmup: 2, imageSize: 320 }, ...over };
}

/**
 * Layer 0 on input 0: dense 4 ms, pit-k 1 ms + 0.25 ms detection (chosen), bcsr failed (NaN);
 * micro-tile densities 0.5 and 0.25, so ideal = 4 × 0.25 = 1 ms. Heat map with non-dyadic values (1/3, 0.1).
 */
export function layer0(): RecordedLayer {
  return {
    index: 0,
    name: 'conv1',
    op: 'Conv',
    m: 4096,
    n: 32,
    k: 27,
    sparsity: 0.9,
    microTiles: [
      // Element density (1 − sparsity): the lowest, but no kernel computes 1x1 tiles, so the ideal time ignores it.
      { shape: '1x1', density: 0.1 },
      { shape: '32x1', density: 0.5 },
      { shape: '1x64', density: 0.25 },
    ],
    variants: [
      { name: 'dense', microTile: null, computeTile: '64x64x32', ms: 4, detectMs: 0, maxAbsErr: 1e-6, maxRelErr: 2.5e-7, ok: true, wgslHash: K_DENSE.hash },
      {
        name: 'pit-k',
        microTile: '32x1',
        computeTile: '64x64x32',
        ms: 1,
        detectMs: 0.25,
        maxAbsErr: 3e-6,
        maxRelErr: 1e-6,
        ok: true,
        wgslHash: K_PITK.hash,
        kernelHashes: [K_DETECT.hash, K_PITK.hash],
      },
      {
        name: 'bcsr',
        microTile: '32x32',
        computeTile: '32x32x32',
        ms: Number.NaN,
        detectMs: 0,
        maxAbsErr: Number.NaN,
        maxRelErr: Number.NaN,
        ok: false,
        wgslHash: '',
        error: 'ShaderCompileError: bcsr: unresolved identifier',
      },
    ],
    chosen: 'pit-k',
    input: 0,
    heatmap: { rows: 2, cols: 3, cellM: 2048, cellK: 9, values: [1 / 3, 0.1, 0, 1, 2 / 7, 0.5] },
  };
}

/** Layer 1 on input 0: dense 2 ms (chosen), pit-k 3 ms; density 0.75 → ideal 1.5 ms. Reuses layer 0's kernels. */
export function layer1(): RecordedLayer {
  return {
    index: 1,
    name: 'conv2',
    op: 'Conv',
    m: 1024,
    n: 64,
    k: 288,
    sparsity: 0.1,
    microTiles: [{ shape: '32x1', density: 0.75 }],
    variants: [
      { name: 'dense', microTile: null, computeTile: '64x64x32', ms: 2, detectMs: 0, maxAbsErr: 0, maxRelErr: 0, ok: true, wgslHash: K_DENSE.hash },
      {
        name: 'pit-k',
        microTile: '32x1',
        computeTile: '64x64x32',
        ms: 3,
        detectMs: 0.5,
        maxAbsErr: 0,
        maxRelErr: 0,
        ok: true,
        wgslHash: K_PITK.hash,
        kernelHashes: [K_DETECT.hash, K_PITK.hash],
      },
    ],
    chosen: 'dense',
    input: 0,
  };
}

/** Layer 2 on input 0: skipped (grouped conv) — counts for nothing in totals. */
export function layer2(): RecordedLayer {
  return { index: 2, name: 'dwconv', op: 'Conv', m: 0, n: 0, k: 0, sparsity: 0, microTiles: [], variants: [], chosen: 'dense', input: 0, skipped: 'grouped conv (group=32)' };
}

/** Layer 0 on input 1: dense only, 0.5 ms, no micro-tile measured → ideal = dense. */
export function layer0input1(): RecordedLayer {
  return {
    index: 0,
    name: 'conv1',
    op: 'Conv',
    m: 4096,
    n: 32,
    k: 27,
    sparsity: 0,
    microTiles: [],
    variants: [{ name: 'dense', microTile: null, computeTile: '64x64x32', ms: 0.5, detectMs: 0, maxAbsErr: 0, maxRelErr: 0, ok: true, wgslHash: K_DENSE.hash }],
    chosen: 'dense',
    input: 1,
  };
}

/** The layers as getRunReport returns them: without the db-only `kernelHashes`. */
export function asReported(l: RecordedLayer): RecordedLayer {
  return { ...l, variants: l.variants.map(({ kernelHashes: _, ...v }) => v) };
}
