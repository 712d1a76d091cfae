/**
 * Samples of a job (core/inputs/samples.ts): a synthetic model (labelled) with inputs of three element types
 * (float32, int64, bool), fed from .npy files of various dtypes; each is converted to the declared type (never int64
 * → float32), checked before anything runs, and the feed runs in onnxruntime. Also `--input` / `--sample` grouping,
 * the JSON manifest, and every bad input the issue names.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultPhotoPaths } from '../../core/inputs/default.ts';
import { loadSamples, readManifest, samplesFromFlags, type SampleSpec } from '../../core/inputs/samples.ts';
import { InputError } from '../../core/model/errors.ts';
import { importOnnxBytes } from '../../core/model/onnx-import.ts';
import { captureReference } from '../../core/model/reference.ts';
import { findSparseOps } from '../../core/model/sparse-ops.ts';
import { buildModel, randomFloats } from '../model/onnx-builders.ts';
import { npyBytes } from './npy-fixtures.ts';

const tmp = mkdtempSync(join(tmpdir(), 'pit-samples-'));
const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
function npy(name: string, descr: string, shape: number[], data: ArrayBufferView): string {
  const p = join(tmp, name);
  writeFileSync(p, npyBytes(descr, shape, bytesOf(data)));
  return p;
}

/** Synthetic: y[n, 4] = MatMul(Relu(x), W) · float(mask)[n, 1] + float(ids)[n, 1]; x float32 [n, 8], ids int64 [n], mask bool [n]. */
const W = randomFloats(32, 5);
const model = importOnnxBytes(
  buildModel({
    inputs: [{ name: 'x', dims: ['n', 8] }, { name: 'ids', dims: ['n'], elemType: 7 }, { name: 'mask', dims: ['n'], elemType: 9 }],
    outputs: [{ name: 'y', dims: ['n', 4] }],
    initializers: [{ name: 'W', dims: [8, 4], data: W }, { name: 'axes', dims: [1], data: [1], type: 'int64' }],
    nodes: [
      { op: 'Relu', inputs: ['x'], outputs: ['xr'] },
      { op: 'MatMul', inputs: ['xr', 'W'], outputs: ['h'], name: 'proj' },
      { op: 'Cast', inputs: ['mask'], outputs: ['mf'], attrs: { to: 1 } },
      { op: 'Unsqueeze', inputs: ['mf', 'axes'], outputs: ['m2'] },
      { op: 'Cast', inputs: ['ids'], outputs: ['idf'], attrs: { to: 1 } },
      { op: 'Unsqueeze', inputs: ['idf', 'axes'], outputs: ['i2'] },
      { op: 'Mul', inputs: ['h', 'm2'], outputs: ['hm'] },
      { op: 'Add', inputs: ['hm', 'i2'], outputs: ['y'] },
    ],
  }),
  'synthetic-three-dtypes',
);

const x3 = randomFloats(24, 6);
const files = {
  x: npy('x.npy', '<f4', [3, 8], x3),
  x64: npy('x64.npy', '<f8', [3, 8], Float64Array.from(x3)),
  ids: npy('ids.npy', '<i8', [3], BigInt64Array.of(7n, -2n, 9007199254740993n)), // 2^53 + 1: exact only as int64
  ids32: npy('ids32.npy', '<i4', [3], Int32Array.of(7, -2, 40000)),
  idsF: npy('idsf.npy', '<f4', [3], Float32Array.of(7, -2, 4)),
  mask: npy('mask.npy', '|b1', [3], Uint8Array.of(1, 0, 1)),
  mask01: npy('mask01.npy', '|u1', [3], Uint8Array.of(0, 1, 1)),
  mask2: npy('mask2.npy', '|u1', [3], Uint8Array.of(0, 2, 1)),
  x2: npy('x2.npy', '<f4', [2, 8], new Float32Array(16)),
  ids4: npy('ids4.npy', '<i8', [4], new BigInt64Array(4)),
};
const named = (x: string, ids: string, mask: string): SampleSpec => ({ sources: [{ name: 'x', path: x }, { name: 'ids', path: ids }, { name: 'mask', path: mask }] });
const load = (...samples: SampleSpec[]) => loadSamples(model, { inputs: [], samples, imageSize: 960 });

describe('loadSamples: every model input in the element type it declares', () => {
  it('float32 + int64 + bool from .npy: fed as they are; int64 stays exact (no float32 detour)', () => {
    const [s] = load(named(files.x, files.ids, files.mask));
    expect(s!.feeds['x']).toMatchObject({ type: 'float32', dims: [3, 8] });
    expect(s!.feeds['ids']!.type).toBe('int64');
    expect(Array.from(s!.feeds['ids']!.data as BigInt64Array)).toEqual([7n, -2n, 9007199254740993n]);
    expect(s!.feeds['mask']).toEqual({ dims: [3], type: 'bool', data: Uint8Array.of(1, 0, 1) });
    expect(s!.ref.preprocess).toMatch(/^3 model inputs: x ← .*x\.npy \(npy float32 \[3, 8\]\); ids ← .*ids\.npy \(npy int64 \[3\]\); mask ← .*mask\.npy \(npy bool \[3\]\)$/);
    expect(s!.ref).toMatchObject({ path: files.x, kind: 'npy', shape: [3, 8], synthetic: false });
  });

  it('widening and exact conversions: float64 → float32, int32 → int64, uint8 0/1 → bool; onnxruntime runs the feed', async () => {
    const [s] = load(named(files.x64, files.ids32, files.mask01));
    expect(s!.feeds['x']!.type).toBe('float32');
    expect(Array.from(s!.feeds['ids']!.data as BigInt64Array)).toEqual([7n, -2n, 40000n]);
    expect(Array.from(s!.feeds['mask']!.data as Uint8Array)).toEqual([0, 1, 1]);
    expect(s!.ref.preprocess).toContain('ids ← ');
    expect(s!.ref.preprocess).toContain('(npy int64 [3], converted from int32)');
    const ops = findSparseOps(model);
    const cap = await captureReference(model, ops, s!.feeds);
    // y[row, j] = mask[row]·(relu(x)·W)[row, j] + ids[row]; row 0 is masked out: y = ids = 7.
    expect(Array.from(cap.outputs[0]!.data.subarray(0, 4))).toEqual([7, 7, 7, 7]);
    const h = cap.ops.get(0)!.output.data;
    expect(cap.outputs[0]!.data[4 + 2]).toBeCloseTo(h[4 + 2]! - 2, 5);
    expect(cap.outputs[0]!.data[8 + 1]).toBeCloseTo(h[8 + 1]! + 40000, 2);
  });

  it('several samples, each checked on its own', () => {
    const s = load(named(files.x, files.ids, files.mask), named(files.x64, files.ids32, files.mask01));
    expect(s).toHaveLength(2);
    expect(s[1]!.label).toMatch(/^sample 1: x=.*x64\.npy \[3,8\], ids=.*ids32\.npy \[3\], mask=/);
  });
});

describe('loadSamples: bad input is one line naming the input, before anything runs', () => {
  const cases: [string, SampleSpec, RegExp][] = [
    ['a missing named input', { sources: [{ name: 'x', path: files.x }, { name: 'ids', path: files.ids }] }, /^no file given for model input "mask" \(bool \[n\]\) \(sample 0\)$/],
    ['an unknown name', { sources: [...named(files.x, files.ids, files.mask).sources, { name: 'idz', path: files.ids }] }, /^unknown model input "idz" \(for .*ids\.npy\); the model's inputs: x, ids, mask$/],
    ['a name given twice', { sources: [...named(files.x, files.ids, files.mask).sources, { name: 'x', path: files.x64 }] }, /^model input "x" is given twice \(sample 0\): .*x\.npy and .*x64\.npy$/],
    ['an unnamed file for a multi-input model', { sources: [{ path: files.x }] }, /has 3 inputs \(x, ids, mask\): give each as NAME=FILE \(unnamed: .*x\.npy\)$/],
    ['float data for an int64 input', named(files.x, files.idsF, files.mask), /^cannot feed float32 data \(.*idsf\.npy for model input "ids"\) as int64: it would truncate; save the array with an integer dtype/],
    ['a value that is not 0/1 for a bool input', named(files.x, files.ids, files.mask2), /^cannot feed uint8 data \(.*mask2\.npy for model input "mask"\) as bool: value 2 at index 1 does not fit bool \(0 or 1\)$/],
    ['a shape that does not fit (rank)', named(files.x, files.x, files.mask), /^input shape \[3, 8\] \(from .*x\.npy\) does not match model input "ids": expected \[n\]$/],
    ['symbolic dims that disagree within a sample', named(files.x2, files.ids, files.mask), /^symbolic dim 'n' is 2 in model input "x" but 3 in "ids" \(from .*ids\.npy\); one sample must agree$/],
    ['a missing file', named(join(tmp, 'none.npy'), files.ids, files.mask), /^input file not found: .*none\.npy$/],
  ];
  for (const [label, sample, pattern] of cases) {
    it(label, () => {
      let err: unknown;
      try {
        load(sample);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toMatch(pattern);
      expect((err as Error).message.includes('\n')).toBe(false);
    });
  }

  it('an int64 value beyond int32 for an int32 input names the value', () => {
    const m = importOnnxBytes(
      buildModel({ inputs: [{ name: 'i', dims: [4], elemType: 6 }], outputs: [{ name: 'o', dims: [4] }], nodes: [{ op: 'Identity', inputs: ['i'], outputs: ['o'] }] }),
      'synthetic-int32',
    );
    const big = npy('big.npy', '<i8', [4], BigInt64Array.of(1n, 2n, 3n, 1n << 40n));
    expect(() => loadSamples(m, { inputs: [big], imageSize: 960 })).toThrow(`value ${1n << 40n} at index 3 does not fit int32`);
  });
});

describe('samplesFromFlags: --input values and --sample separators', () => {
  it('plain files: one sample each (single-input models)', () => {
    expect(samplesFromFlags([{ input: 'a.jpg' }, { input: 'b.npy' }])).toEqual({ samples: [{ sources: [{ path: 'a.jpg' }] }, { sources: [{ path: 'b.npy' }] }] });
  });
  it('named files form one sample; --sample starts the next', () => {
    const r = samplesFromFlags([{ input: 'x=a.npy' }, { input: 'ids=b.npy' }, 'sample', { input: 'x=c.npy' }, { input: 'ids=d=e.npy' }]);
    expect(r).toEqual({
      samples: [
        { sources: [{ name: 'x', path: 'a.npy' }, { name: 'ids', path: 'b.npy' }] },
        { sources: [{ name: 'x', path: 'c.npy' }, { name: 'ids', path: 'd=e.npy' }] },
      ],
    });
  });
  it('refuses a mix of named and unnamed in one sample, and empty samples', () => {
    expect(samplesFromFlags([{ input: 'x=a.npy' }, { input: 'b.npy' }])).toEqual({ error: 'sample 0 mixes named (NAME=FILE) and unnamed inputs: name every input of a sample' });
    expect(samplesFromFlags([{ input: 'x=a.npy' }, 'sample'])).toEqual({ error: '--sample with no --input (sample 1 is empty)' });
    expect(samplesFromFlags(['sample', { input: 'x=a.npy' }])).toEqual({ error: '--sample before the first --input (sample 0 is empty)' });
  });
});

describe('readManifest', () => {
  it('reads named samples, bare files and image specs; paths relative to the manifest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pit-manifest-'));
    const p = join(dir, 'inputs.json');
    writeFileSync(
      p,
      JSON.stringify({
        image: 'paddle-rec',
        samples: [{ x: 'x.npy', ids: { file: 'sub/ids.npy' }, mask: 'mask.npy' }, 'photo.jpg', { x: { file: 'crop.png', image: { preset: 'paddle-rec', width: 80 } } }],
      }),
    );
    const m = readManifest(p);
    expect(m.image).toBe('paddle-rec');
    expect(m.samples[0]!.sources).toEqual([
      { name: 'x', path: join(dir, 'x.npy'), image: 'paddle-rec' },
      { name: 'ids', path: join(dir, 'sub/ids.npy'), image: 'paddle-rec' },
      { name: 'mask', path: join(dir, 'mask.npy'), image: 'paddle-rec' },
    ]);
    expect(m.samples[1]!.sources).toEqual([{ path: join(dir, 'photo.jpg'), image: 'paddle-rec' }]);
    expect(m.samples[2]!.sources[0]!.image).toEqual({ preset: 'paddle-rec', width: 80 });
  });

  it('bad manifests: one line naming the manifest and the problem', () => {
    const p = join(tmp, 'bad.json');
    writeFileSync(p, '{"samples": [{"x": 3}]}');
    expect(() => readManifest(p)).toThrow(`inputs manifest ${p}: samples[0].x must be a file name or { "file": …, "image": … }`);
    writeFileSync(p, '{"sample": []}');
    expect(() => readManifest(p)).toThrow("unknown field 'sample' (fields: samples, image)");
    writeFileSync(p, 'not json');
    expect(() => readManifest(p)).toThrow(/^inputs manifest .*bad\.json: not valid JSON/);
    expect(() => readManifest(join(tmp, 'none.json'))).toThrow(/none\.json: file not found$/);
  });

  it('an image through a preset: a real photo fed to a single-input model as PaddleOCR rec sees it', () => {
    const rec = importOnnxBytes(
      buildModel({ inputs: [{ name: 'img', dims: ['b', 3, 48, 'w'] }], outputs: [{ name: 'o', dims: ['b', 3, 48, 'w'] }], nodes: [{ op: 'Relu', inputs: ['img'], outputs: ['o'] }] }),
      'synthetic-rec-input',
    );
    const [s] = loadSamples(rec, { inputs: [defaultPhotoPaths()[1]!], imageSize: 960, imagePreset: 'paddle-rec' });
    expect(s!.feeds['img']!.dims.slice(0, 3)).toEqual([1, 3, 48]);
    expect(s!.ref.preprocess).toMatch(/^paddle-rec preset: /);
  });
});
