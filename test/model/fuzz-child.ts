/**
 * The fuzzing loop of onnx-fuzz.test.ts, in its own process so that a native crash or a hang is caught and named
 * instead of taking the test runner down. argv: SEED BUDGET_MS MAX_CASES. For each case: a mutation of a small
 * valid model (built with onnx-builders.ts: Relu → MatMul → Gemm, a Conv branch, a Constant node, int64 and raw
 * initializers), then what `pit profile` and the host do with a model before any GPU work: importOnnx,
 * findSparseOps, the reference runtime's session (onnxruntime's own validation), and, for a model with one input
 * of a known rank, a reference run on a small tensor and the lowering of every supported layer to a matmul (what
 * each profiled layer goes through before its kernels). Before each case it prints
 * `case I KIND`, after it one JSON line with the outcome; the parent reads them as they come.
 */
import type { onnx as OnnxNs } from 'onnx-proto';
import { InputError, ModelError } from '../../core/model/errors.ts';
import { checkLowerable, lowerToMatmul } from '../../core/model/lowering.ts';
import { importOnnxBytes, onnx } from '../../core/model/onnx-import.ts';
import { ReferenceSession } from '../../core/model/reference.ts';
import { findSparseOps } from '../../core/model/sparse-ops.ts';
import { mulberry32 } from '../../core/synthetic/random.ts';
import { buildModel, randomFloats } from './onnx-builders.ts';

const [seedArg, budgetArg, maxArg] = process.argv.slice(2);
const rand = mulberry32(Number(seedArg ?? 1));
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

const base = buildModel({
  inputs: [{ name: 'x', dims: ['N', 24] }],
  outputs: [{ name: 'y', dims: ['N', 8] }, { name: 'z', dims: [1, 4, 4, 4] }],
  initializers: [
    { name: 'W', dims: [24, 20], data: randomFloats(24 * 20, 1) },
    { name: 'G', dims: [20, 8], data: randomFloats(20 * 8, 2), raw: true },
    { name: 'Gb', dims: [8], data: randomFloats(8, 3) },
    { name: 'shape', dims: [4], data: [1, 4, 6, 4], type: 'int64' },
    { name: 'K', dims: [4, 4, 3, 1], data: randomFloats(48, 4) },
  ],
  constantNodes: [{ name: 'c', dims: [1], data: [0.5] }],
  nodes: [
    { op: 'Relu', inputs: ['x'], outputs: ['r'], name: 'relu' },
    { op: 'MatMul', inputs: ['r', 'W'], outputs: ['h'], name: 'mm' },
    { op: 'Gemm', inputs: ['h', 'G', 'Gb'], outputs: ['y0'], name: 'gemm', attrs: { alpha: { float: 1 }, transB: 0 } },
    { op: 'Mul', inputs: ['y0', 'c'], outputs: ['y'], name: 'scale' },
    { op: 'Reshape', inputs: ['x', 'shape'], outputs: ['x4'], name: 'reshape' },
    { op: 'Conv', inputs: ['x4', 'K'], outputs: ['z'], name: 'conv', attrs: { kernel_shape: [3, 1], pads: [0, 0, 0, 0], strides: [1, 1], group: 1 } },
  ],
});

type Mutation = { kind: string; apply: () => Uint8Array };

/** Structural mutations of the decoded model, re-encoded (what a broken exporter writes). */
function structural(): Mutation {
  const m = onnx.ModelProto.decode(base);
  // Decoded messages have every repeated field set ([] when empty).
  const g = m.graph! as OnnxNs.GraphProto & { input: OnnxNs.ValueInfoProto[]; node: OnnxNs.NodeProto[]; output: OnnxNs.ValueInfoProto[] };
  const node = () => pick(g.node as OnnxNs.NodeProto[]);
  const init = () => pick(g.initializer as OnnxNs.TensorProto[]);
  const weird = () => pick([0, -1, -7, 1, 3, 2 ** 31, 2 ** 40, 1e15]);
  const choices: [string, () => void][] = [
    ['input-dim', () => (g.input[0]!.type!.tensorType!.shape!.dim![int(2)] = { dimValue: weird() })],
    ['input-elem-type', () => (g.input[0]!.type!.tensorType!.elemType = pick([0, 2, 7, 8, 10, 11, 99]))],
    ['no-inputs', () => (g.input = [])],
    ['two-inputs', () => g.input.push(onnx.ValueInfoProto.create({ name: 'x2', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 3 }] } } } }))],
    ['input-no-type', () => (g.input[0] = onnx.ValueInfoProto.create({ name: 'x' }))],
    ['no-outputs', () => (g.output = [])],
    ['op-type', () => (node().opType = pick(['Conv', 'MatMul', 'Gemm', 'Relu', 'NoSuchOp', '', 'Constant', 'Attention']))],
    ['drop-input', () => node().input.pop()],
    ['bogus-input', () => node().input.push(pick(['nowhere', '', 'x', 'W']))],
    ['drop-output', () => (node().output = [])],
    ['domain', () => (node().domain = pick(['com.microsoft', 'bogus', 'ai.onnx.ml']))],
    ['attr-type', () => {
      const n = (g.node as OnnxNs.NodeProto[]).find((x) => x.attribute.length) ?? node();
      const a = n.attribute[0] ?? onnx.AttributeProto.create({ name: 'group' });
      a.type = pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 99]) as OnnxNs.AttributeProto.AttributeType;
      n.attribute[0] = a;
    }],
    ['attr-value', () => {
      const conv = (g.node as OnnxNs.NodeProto[]).find((x) => x.opType === 'Conv')!;
      const a = pick(conv.attribute as OnnxNs.AttributeProto[]);
      if (a.type === 7) a.ints = Array.from({ length: int(6) }, () => pick([0, -1, 1, 2, 3, 2 ** 31, 1e12]));
      else a.i = pick([0, -1, 2, 1e12]);
    }],
    ['init-dims', () => (init().dims = Array.from({ length: int(5) }, () => weird()))],
    ['init-type', () => (init().dataType = pick([0, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 16, 99]))],
    ['init-raw-length', () => {
      const t = init();
      t.rawData = new Uint8Array(int(64));
    }],
    ['init-external', () => (init().dataLocation = 1)],
    ['init-empty', () => {
      const t = init();
      t.floatData = [];
      t.int64Data = [];
      t.rawData = new Uint8Array(0);
    }],
    ['constant-value', () => {
      const c = (g.node as OnnxNs.NodeProto[]).find((x) => x.opType === 'Constant')!;
      c.attribute[0]!.t = int(2) ? null : onnx.TensorProto.create({ dataType: pick([1, 7, 8]), dims: [weird()] });
    }],
    ['opset', () => (m.opsetImport = int(3) ? [{ domain: '', version: pick([0, 1, 6, 7, 26, 99, -1]) }] : [])],
    ['ir-version', () => (m.irVersion = pick([0, 1, 3, 99, -1]))],
    ['no-nodes', () => (g.node = [])],
    ['duplicate-node-output', () => {
      const n = node();
      n.output = [g.node[0]!.output![0] ?? 'x'];
    }],
    ['cycle', () => {
      const n = g.node[g.node.length - 1]!;
      g.node[0]!.input![0] = n.output![0] ?? 'z';
    }],
    ['no-graph', () => (m.graph = null)],
  ];
  const [kind, mutate] = pick(choices);
  return { kind: `field:${kind}`, apply: () => (mutate(), onnx.ModelProto.encode(m).finish()) };
}

function mutation(): Mutation {
  const r = rand();
  if (r < 0.3) {
    return {
      kind: 'byte-flip',
      apply: () => {
        const b = Uint8Array.from(base);
        for (let i = 1 + int(8); i > 0; i--) b[int(b.length)] ^= 1 << int(8);
        return b;
      },
    };
  }
  if (r < 0.45) return { kind: 'truncate', apply: () => base.slice(0, int(base.length)) };
  if (r < 0.55) {
    return {
      kind: 'insert-bytes',
      apply: () => {
        const at = int(base.length);
        const junk = Uint8Array.from({ length: 1 + int(16) }, () => int(256));
        return Uint8Array.from([...base.subarray(0, at), ...junk, ...base.subarray(at)]);
      },
    };
  }
  return structural();
}

const budget = Number(budgetArg ?? 15000);
const max = Number(maxArg ?? 400);
const t0 = performance.now();
const say = (line: string) => process.stdout.write(`${line}\n`);
for (let i = 0; i < max && performance.now() - t0 < budget; i++) {
  const mu = mutation();
  say(`case ${i} ${mu.kind}`);
  const c0 = performance.now();
  let outcome: { stage: string; ok: boolean; error?: string; name?: string; typed?: boolean };
  let imported = false;
  let stage = 'reference';
  try {
    const model = importOnnxBytes(mu.apply(), `/fuzz/case-${i}.onnx`);
    const ops = findSparseOps(model);
    imported = true;
    const session = await ReferenceSession.create(model, ops, { threads: 1 });
    outcome = { stage: 'reference', ok: true };
    try {
      const input = model.inputs.length === 1 ? model.inputs[0]! : null;
      // A small tensor for the input: symbolic or unknown dims become 4; concrete ones are kept if small.
      const dims = input?.dims?.map((d) => (typeof d === 'number' && d > 0 ? d : 4));
      if (dims && dims.every((d) => d <= 64) && dims.reduce((a, b) => a * b, 1) <= 4096) {
        stage = 'lowering';
        const captured = await session.run({ dims, data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1) });
        for (const op of ops.filter((o) => o.supported)) if (!checkLowerable(op, captured, model)) lowerToMatmul(op, captured, model);
        outcome = { stage: 'lowering', ok: true };
      }
    } finally {
      await session.release();
    }
  } catch (e) {
    const err = e as Error;
    if (process.env.FUZZ_STACKS && !(e instanceof ModelError || e instanceof InputError)) console.error(err.stack);
    outcome = { stage: imported ? stage : 'import', ok: false, name: err?.name, error: String(err?.message), typed: e instanceof ModelError || e instanceof InputError };
  }
  say(JSON.stringify({ i, kind: mu.kind, ms: Math.round(performance.now() - c0), ...outcome }));
}
say('done');
