/**
 * TF.js layers model import: `model.json` (Keras `modelTopology` + `weightsManifest`) and its weight shards → the
 * graph IR of `ir.ts`, as ONNX operators with NCHW semantics, so `findSparseOps`, the lowering and the profile job
 * treat it like an ONNX model.
 *
 * Follows the Keras 2 layer semantics as TF.js-layers 4 implements them (`tfjs-layers/src/layers/*.ts`) and the
 * model.json format of the TF.js converter (`tfjs-core/src/io/types.ts` `ModelJSON`). The mapping:
 *
 * | Keras layer | IR |
 * |---|---|
 * | InputLayer `[null, H, W, C]` | graph input `[N, C, H, W]` (NHWC tensors become NCHW values everywhere) |
 * | Conv2D | `Conv` (W `[Cout, Cin, kh, kw]` from the kernel `[kh, kw, Cin, Cout]`, group 1) |
 * | DepthwiseConv2D | `Conv` with `group = C` (a grouped conv, one group per input channel): W `[C·mult, 1, kh, kw]` from the kernel `[kh, kw, C, mult]`, output channel `c·mult + m` as in TF |
 * | padding `same` / `valid` | `auto_pad` `SAME_UPPER` / `VALID`: TF's SAME puts the odd padding row/column at the end, as ONNX SAME_UPPER does |
 * | ZeroPadding2D before a `valid` conv it alone feeds | folded into that conv's `pads` (the Pad node disappears); otherwise `Pad` |
 * | BatchNormalization after a conv with a linear activation whose output only it reads | folded into the conv: W·s, (b − mean)·s + beta with s = gamma / sqrt(var + eps); the conv's output value is then the BN layer's output. Otherwise `BatchNormalization` |
 * | Dense | `Gemm` (B = kernel `[in, units]`, C = bias) |
 * | fused `activation` of Conv2D / DepthwiseConv2D / Dense | a separate node after it; the op's own output is the value `LAYER/pre_activation` |
 * | ReLU (max_value, negative_slope), Activation, LeakyReLU, Softmax | `Relu`, `Clip` (ReLU6: min 0, max 6), `LeakyRelu`, `Sigmoid`, `Tanh`, `Softmax` (channel axis), … |
 * | MaxPooling2D, AveragePooling2D, Global…Pooling2D | `MaxPool`, `AveragePool` (padding excluded from the mean, as Keras), `Global…Pool` + `Flatten` |
 * | Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum | `Concat` (Keras axis mapped to NCHW), `Add`/`Sum`, `Sub`, `Mul`, `Mean`, `Max`, `Min` |
 * | Flatten of a 4-D tensor | `Transpose` to NHWC then `Flatten`, so the flattened order is Keras' (H, W, C) and Dense weights stay as stored |
 * | Dropout and other training-only layers | `Identity` |
 *
 * Value names are the Keras layer names (each supported layer has one output); every value keeps where the
 * reference run finds it (`TfjsModel.tfjs.sources`).
 */
import { createHash } from 'node:crypto';
import { ModelError, oneLine } from './errors.ts';
import { readModelFile } from './model-file.ts';
import { biasErrorScaleName } from './operands.ts';
import type { AttrValue, ConstTensor, Dim, OnnxModel, OnnxNode, ValueInfo } from './ir.ts';
import { numel } from './ir.ts';
import { fileShardReader, parseWeightsManifest, readTfjsWeights, type ShardReader, type TfjsWeight, type TfjsWeights } from './tfjs-weights.ts';

/** Where the TF.js reference run finds an IR value. */
export interface TfjsValueSource {
  /** The Keras layer. */
  layer: string;
  /**
   * `output`: the layer's output tensor. `pre-activation`: the output of a Conv2D / DepthwiseConv2D / Dense before
   * its fused activation, which Keras does not expose as a tensor (the reference computes it from the layer's
   * input and weights).
   */
  kind: 'output' | 'pre-activation';
}

/** What a TF.js layers model keeps beside the IR: the model as TF.js itself loads it, and the value map. */
export interface TfjsModelData {
  /** `modelTopology` exactly as in the model.json (TF.js' own loader reads it for the reference run). */
  modelTopology: unknown;
  /** The weight specs and shard bytes (`weightSpecs`, `weightData` of TF.js' `ModelArtifacts`). */
  weights: Pick<TfjsWeights, 'specs' | 'data'>;
  /** IR value name → Keras tensor (every value except the NHWC transposes that Flatten adds). */
  sources: Map<string, TfjsValueSource>;
  /** The Keras layers in topology order (class names as in the file). */
  layers: { name: string; className: string }[];
  /** BatchNormalization layers folded into the conv before them: BN name → conv name. */
  foldedBatchNorms: Map<string, string>;
  /** ZeroPadding2D layers folded into the conv after them: padding name → conv name. */
  foldedPaddings: Map<string, string>;
  /** Keras version that wrote the topology, when stated. */
  kerasVersion?: string;
}

/** An imported TF.js layers model: the IR (ONNX ops, NCHW values) plus the TF.js side. `proto` is null. */
export interface TfjsModel extends OnnxModel {
  format: 'tfjs-layers';
  tfjs: TfjsModelData;
}

/** Whether an imported model came from a TF.js layers model.json. */
export function isTfjsModel(model: OnnxModel): model is TfjsModel {
  return model.format === 'tfjs-layers';
}

/** Keras layer classes the importer maps (see the module comment). */
export const SUPPORTED_LAYERS: readonly string[] = [
  'InputLayer', 'Conv2D', 'DepthwiseConv2D', 'Dense', 'BatchNormalization', 'ReLU', 'LeakyReLU', 'Activation',
  'Softmax', 'MaxPooling2D', 'AveragePooling2D', 'GlobalAveragePooling2D', 'GlobalMaxPooling2D', 'ZeroPadding2D',
  'Concatenate', 'Add', 'Subtract', 'Multiply', 'Average', 'Maximum', 'Minimum', 'Flatten', 'Dropout',
  'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'ActivityRegularization',
];

/**
 * Whether a parsed JSON value looks like a TF.js layers model.json (has a Keras `modelTopology`).
 */
export function looksLikeTfjsLayersModel(json: unknown): boolean {
  const t = (json as { modelTopology?: unknown } | null)?.modelTopology as Record<string, unknown> | undefined;
  return !!t && typeof t === 'object' && ('model_config' in t || 'class_name' in t);
}

/**
 * Reads and imports a TF.js layers model: the model.json and the weight shards its `weightsManifest` lists,
 * relative to its folder.
 *
 * @param path the model.json
 * @returns the IR; `sha256` covers the model.json bytes followed by every shard in manifest order, `byteLength`
 *   their total
 * @throws ModelError `model file not found: PATH`; `PATH is not valid JSON (…)`; `PATH is a TF.js graph model …`;
 *   `weight shard not found: SHARD (listed in the weightsManifest of PATH)`; `PATH: layer NAME has type TYPE, which
 *   PIT Studio cannot import (…)`; any structural problem of the topology, one line naming the layer
 */
export function importTfjs(path: string): TfjsModel {
  const { abs, bytes } = readModelFile(path);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new ModelError(`${abs} is not valid JSON (${oneLine(err)})`, { path: abs, cause: err });
  }
  return importTfjsJson(json, fileShardReader(abs), abs, bytes);
}

/**
 * Imports a TF.js layers model from its parsed model.json and a shard reader (tests and bundled models use
 * in-memory shards).
 *
 * @param json the parsed model.json (`{modelTopology, weightsManifest, …}`)
 * @param readShard returns a shard's bytes by its manifest path
 * @param label path or label for the result and messages
 * @param jsonBytes the model.json bytes for the hash (default: `JSON.stringify(json)`)
 * @throws ModelError as `importTfjs`
 */
export function importTfjsJson(json: unknown, readShard: ShardReader, label: string, jsonBytes?: Uint8Array): TfjsModel {
  const j = json as { format?: unknown; modelTopology?: unknown; weightsManifest?: unknown } | null;
  if (!j || typeof j !== 'object' || Array.isArray(j)) throw new ModelError(`${label} is not a TF.js model.json (not a JSON object)`, { path: label });
  const topo = j.modelTopology as Record<string, unknown> | undefined;
  if (j.format === 'graph-model' || (topo && 'node' in topo)) {
    throw new ModelError(`${label} is a TF.js graph model; PIT Studio imports TF.js layers models (Keras topology) and ONNX`, { path: label });
  }
  if (!looksLikeTfjsLayersModel(j)) throw new ModelError(`${label} is not a TF.js layers model.json (no Keras modelTopology)`, { path: label });
  const groups = parseWeightsManifest(j.weightsManifest, label);
  const layers = kerasLayers(topo!, label);
  // Check every layer type before reading megabytes of shards: an unsupported layer is the likelier error.
  for (const l of layers.list) {
    if (!SUPPORTED_LAYERS.includes(l.class_name)) {
      throw new ModelError(
        `${label}: layer ${l.name} has type ${l.class_name}, which PIT Studio cannot import (supported: ${SUPPORTED_LAYERS.filter((s) => s !== 'InputLayer').join(', ')})`,
        { path: label, node: l.name },
      );
    }
  }
  const weights = readTfjsWeights(groups, readShard, label);

  const hash = createHash('sha256');
  const head = jsonBytes ?? new TextEncoder().encode(JSON.stringify(json));
  hash.update(head);
  hash.update(weights.data);

  const b = new Builder(label, weights.byName);
  b.build(layers);
  const kv = (topo as { keras_version?: unknown }).keras_version;
  return {
    format: 'tfjs-layers',
    path: label,
    sha256: hash.digest('hex'),
    byteLength: head.byteLength + weights.data.byteLength,
    irVersion: 0,
    // The IR's ops follow ONNX opset 13 semantics (Clip and Softmax carry their bounds / axis as attributes).
    opset: 13,
    producer: ['TF.js layers', typeof kv === 'string' ? `keras ${kv}` : ''].filter((s) => s).join(', '),
    inputs: b.inputs,
    outputs: b.outputs,
    valueInfo: b.valueInfo,
    nodes: b.nodes.map((n, index) => ({ ...n, index })),
    constants: b.constants,
    proto: null,
    tfjs: {
      modelTopology: topo,
      weights: { specs: weights.specs, data: weights.data },
      sources: b.sources,
      layers: layers.list.map((l) => ({ name: l.name, className: l.class_name })),
      foldedBatchNorms: b.foldedBatchNorms,
      foldedPaddings: b.foldedPaddings,
      ...(typeof kv === 'string' ? { kerasVersion: kv } : {}),
    },
  };
}

// ---- Keras topology ----

/** A Keras layer as serialised in model.json. */
interface KerasLayer {
  name: string;
  class_name: string;
  config: Record<string, unknown>;
  /** Names of the layers whose (single) outputs this layer reads, in argument order. */
  inbound: string[];
}

interface KerasGraph {
  list: KerasLayer[];
  /** Model input layer names, in order. */
  inputs: string[];
  /** Model output layer names, in order. */
  outputs: string[];
}

/**
 * The layers of a Functional (`Model` / `Functional`) or `Sequential` model config, in an order where every layer
 * comes after the layers it reads.
 */
function kerasLayers(topo: Record<string, unknown>, label: string): KerasGraph {
  const mc = (topo['model_config'] ?? topo) as { class_name?: unknown; config?: unknown };
  const fail = (msg: string, node?: string): never => {
    throw new ModelError(`${label}: ${msg}`, { path: label, node });
  };
  const cls = mc.class_name;
  if (cls === 'Sequential') {
    const cfg = mc.config as unknown;
    const raw = (Array.isArray(cfg) ? cfg : (cfg as { layers?: unknown } | null)?.layers) as unknown[] | undefined;
    if (!Array.isArray(raw) || raw.length === 0) fail('Sequential model has no layers');
    const list: KerasLayer[] = [];
    let prev: string | null = null;
    for (const r of raw!) {
      const l = r as { class_name?: unknown; config?: Record<string, unknown> };
      const name = typeof l.config?.['name'] === 'string' ? (l.config['name'] as string) : `${String(l.class_name)}_${list.length}`;
      if (typeof l.class_name !== 'string' || !l.config) fail(`Sequential layer ${list.length} has no class_name/config`);
      if (prev === null && l.class_name !== 'InputLayer') {
        // A Sequential model's first layer carries the input shape; Keras makes an implicit InputLayer for it.
        const shape = l.config!['batch_input_shape'] ?? l.config!['batch_shape'];
        if (!Array.isArray(shape)) fail(`Sequential model: first layer ${name} declares no batch_input_shape`, name);
        const inputName = `${name}_input`;
        list.push({ name: inputName, class_name: 'InputLayer', config: { name: inputName, batch_input_shape: shape }, inbound: [] });
        prev = inputName;
      }
      list.push({ name, class_name: l.class_name as string, config: l.config!, inbound: prev === null ? [] : [prev] });
      prev = name;
    }
    const first = list[0]!.name;
    return { list, inputs: [first], outputs: [prev!] };
  }
  if (cls !== 'Model' && cls !== 'Functional') fail(`model class ${String(cls)} is neither a Keras Functional model nor Sequential`);
  const cfg = mc.config as { layers?: unknown; input_layers?: unknown; output_layers?: unknown } | undefined;
  if (!cfg || !Array.isArray(cfg.layers) || cfg.layers.length === 0) fail('the model config has no layers');
  const byName = new Map<string, KerasLayer>();
  for (const r of cfg!.layers as unknown[]) {
    const l = r as { name?: unknown; class_name?: unknown; config?: Record<string, unknown>; inbound_nodes?: unknown };
    const name = typeof l.name === 'string' ? l.name : typeof l.config?.['name'] === 'string' ? (l.config['name'] as string) : '';
    if (!name || typeof l.class_name !== 'string' || !l.config) fail(`a layer has no name, class_name or config`);
    if (byName.has(name)) fail(`two layers are named ${name}`, name);
    byName.set(name, { name, class_name: l.class_name as string, config: l.config!, inbound: inboundOf(l.inbound_nodes, name, label) });
  }
  const refs = (v: unknown, what: string): string[] => {
    if (!Array.isArray(v)) return fail(`the model config has no ${what}`);
    return v.map((e) => {
      const n = Array.isArray(e) ? e[0] : e;
      if (typeof n !== 'string' || !byName.has(n)) fail(`${what} names an unknown layer ${String(n)}`);
      return n as string;
    });
  };
  const inputs = refs(cfg!.input_layers, 'input_layers');
  const outputs = refs(cfg!.output_layers, 'output_layers');
  // Topological order, stable: Keras writes layers in such an order already (then this keeps the file's order, which
  // is the order layers are numbered and profiled in); otherwise a layer waits for the layers it reads.
  const order: KerasLayer[] = [];
  const done = new Set<string>();
  let pending = [...byName.values()];
  while (pending.length) {
    const waiting: KerasLayer[] = [];
    for (const l of pending) {
      if (l.inbound.every((i) => done.has(i))) {
        order.push(l);
        done.add(l.name);
      } else waiting.push(l);
    }
    if (waiting.length === pending.length) {
      const l = waiting[0]!;
      const missing = l.inbound.find((i) => !byName.has(i));
      fail(missing ? `layer ${l.name} reads unknown layer ${missing}` : `the layers around ${l.name} form a cycle`, l.name);
    }
    pending = waiting;
  }
  return { list: order, inputs, outputs };
}

/**
 * Keras 2 `inbound_nodes`: a list of call nodes, each a list of `[layer, nodeIndex, tensorIndex, kwargs]`. Only
 * single-call layers reading tensor 0 of single-call layers are supported (shared layers are not).
 */
function inboundOf(raw: unknown, name: string, label: string): string[] {
  const fail = (msg: string): never => {
    throw new ModelError(`${label}: layer ${name}: ${msg}`, { path: label, node: name });
  };
  if (raw === undefined || (Array.isArray(raw) && raw.length === 0)) return [];
  if (!Array.isArray(raw)) return fail('inbound_nodes is not a list');
  if (raw.length > 1) fail(`is called ${raw.length} times (shared layers are not supported)`);
  const call = raw[0] as unknown;
  if (!Array.isArray(call)) return fail('inbound_nodes uses a format other than Keras 2 lists ([[layer, node, tensor, kwargs], …])');
  return call.map((e) => {
    if (!Array.isArray(e) || typeof e[0] !== 'string') return fail('inbound_nodes entry is not [layer, node, tensor, kwargs]');
    if ((e[1] ?? 0) !== 0 || (e[2] ?? 0) !== 0) fail(`reads output ${String(e[2])} of call ${String(e[1])} of ${e[0]} (shared or multi-output layers are not supported)`);
    return e[0] as string;
  });
}

// ---- Building the IR ----

/** A Keras shape: batch first, NHWC for images; null for unknown sizes. */
type KShape = (number | null)[];

/** An IR value as the builder tracks it. */
interface Val {
  name: string;
  /** Keras shape (NHWC for rank 4). */
  shape: KShape;
}

/** A node before indices are assigned. */
type NodeDraft = Omit<OnnxNode, 'index'>;

/** Keras activation name → ONNX op (and attributes); `linear` maps to none. */
const ACTIVATIONS: Readonly<Record<string, { op: string; attrs?: Record<string, AttrValue> } | null>> = {
  linear: null,
  relu: { op: 'Relu' },
  relu6: { op: 'Clip', attrs: { min: 0, max: 6 } },
  sigmoid: { op: 'Sigmoid' },
  hard_sigmoid: { op: 'HardSigmoid', attrs: { alpha: 0.2, beta: 0.5 } },
  tanh: { op: 'Tanh' },
  softmax: { op: 'Softmax' },
  elu: { op: 'Elu', attrs: { alpha: 1 } },
  selu: { op: 'Selu' },
  softplus: { op: 'Softplus' },
  softsign: { op: 'Softsign' },
  exponential: { op: 'Exp' },
};

const IDENTITY_LAYERS = new Set(['Dropout', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'ActivityRegularization']);

/** Builds the IR layer by layer (module comment has the mapping). */
class Builder {
  nodes: NodeDraft[] = [];
  constants = new Map<string, ConstTensor>();
  valueInfo = new Map<string, ValueInfo>();
  sources = new Map<string, TfjsValueSource>();
  inputs: ValueInfo[] = [];
  outputs: ValueInfo[] = [];
  foldedBatchNorms = new Map<string, string>();
  foldedPaddings = new Map<string, string>();
  /** Keras layer name → its output value. */
  private out = new Map<string, Val>();
  /** Keras layer name → how many layers read it. */
  private readers = new Map<string, number>();
  /** IR value → the node producing it. */
  private producer = new Map<string, NodeDraft>();

  constructor(
    private readonly label: string,
    private readonly weights: Map<string, TfjsWeight>,
  ) {}

  build(g: KerasGraph): void {
    for (const l of g.list) for (const i of l.inbound) this.readers.set(i, (this.readers.get(i) ?? 0) + 1);
    for (const o of g.outputs) this.readers.set(o, (this.readers.get(o) ?? 0) + 1);
    for (const l of g.list) {
      const ins = l.inbound.map((n) => this.out.get(n)!);
      const v = l.class_name === 'InputLayer' ? this.input(l, g.inputs.includes(l.name)) : this.layer(l, ins);
      this.out.set(l.name, v);
    }
    this.outputs = g.outputs.map((o) => this.info(this.out.get(o)!.name));
  }

  fail(l: KerasLayer, msg: string): never {
    throw new ModelError(`${this.label}: layer ${l.name} (${l.class_name}): ${msg}`, { path: this.label, node: l.name });
  }

  /** Records a value's Keras source and its IR dims (NCHW for rank 4). */
  private value(name: string, shape: KShape, source: TfjsValueSource | null): Val {
    const dims: Dim[] = shape.map((d, i) => (i === 0 ? (d ?? 'N') : (d ?? -1)));
    const irDims = dims.length === 4 ? [dims[0]!, dims[3]!, dims[1]!, dims[2]!] : dims;
    this.valueInfo.set(name, { name, elemType: 1, dims: irDims });
    if (source) this.sources.set(name, source);
    else this.sources.delete(name);
    return { name, shape };
  }

  private info(name: string): ValueInfo {
    return this.valueInfo.get(name)!;
  }

  private node(opType: string, name: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}): NodeDraft {
    const n: NodeDraft = { name, opType, domain: '', inputs, outputs, attrs };
    this.nodes.push(n);
    for (const o of outputs) this.producer.set(o, n);
    return n;
  }

  private constant(name: string, dims: number[], data: Float32Array): string {
    this.constants.set(name, { name, dims, elemType: 1, data, source: 'initializer' });
    return name;
  }

  /** A layer's weight by Keras name (`LAYER/kernel`), tolerating name scopes in front of the layer name. */
  private weight(l: KerasLayer, w: string, shape?: number[]): TfjsWeight {
    const direct = this.weights.get(`${l.name}/${w}`);
    let found = direct;
    if (!found) {
      for (const [k, v] of this.weights) {
        if (k.endsWith(`/${l.name}/${w}`) || (k.startsWith(`${l.name}/`) && k.endsWith(`/${w}`))) {
          found = v;
          break;
        }
      }
    }
    if (!found) this.fail(l, `weight ${l.name}/${w} is not in the weightsManifest`);
    if (shape && found.shape.join() !== shape.join()) {
      this.fail(l, `weight ${found.name} is [${found.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    return found;
  }

  private input(l: KerasLayer, isModelInput: boolean): Val {
    const shape = (l.config['batch_input_shape'] ?? l.config['batch_shape']) as KShape | undefined;
    if (!Array.isArray(shape) || shape.length < 2) this.fail(l, 'no batch_input_shape');
    const dtype = l.config['dtype'];
    if (dtype !== undefined && dtype !== 'float32') this.fail(l, `input dtype ${String(dtype)} (PIT Studio feeds float32)`);
    const v = this.value(l.name, shape, { layer: l.name, kind: 'output' });
    if (isModelInput) this.inputs.push(this.info(l.name));
    return v;
  }

  /** Dispatches one non-input layer. */
  private layer(l: KerasLayer, ins: Val[]): Val {
    const c = l.config;
    if (c['data_format'] !== undefined && c['data_format'] !== 'channels_last') {
      this.fail(l, `data_format ${String(c['data_format'])} (only channels_last is supported)`);
    }
    const one = (): Val => {
      if (ins.length !== 1) this.fail(l, `expects one input, has ${ins.length}`);
      return ins[0]!;
    };
    switch (l.class_name) {
      case 'Conv2D':
      case 'DepthwiseConv2D':
        return this.conv(l, one());
      case 'Dense':
        return this.dense(l, one());
      case 'BatchNormalization':
        return this.batchNorm(l, one());
      case 'ReLU':
        return this.relu(l, one());
      case 'LeakyReLU':
        return this.simple(l, one(), 'LeakyRelu', { alpha: num(c['alpha'], 0.3) });
      case 'Activation': {
        const a = String(c['activation']);
        return this.activation(l, one(), a, l.name, l.name);
      }
      case 'Softmax': {
        const x = one();
        const axis = c['axis'] === undefined ? -1 : num(c['axis'], -1);
        return this.simple(l, x, 'Softmax', { axis: irAxis(axis, x.shape.length, l, this) });
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D':
        return this.pool(l, one());
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D':
        return this.globalPool(l, one());
      case 'ZeroPadding2D':
        return this.zeroPad(l, one());
      case 'Concatenate':
        return this.concat(l, ins);
      case 'Add':
      case 'Subtract':
      case 'Multiply':
      case 'Average':
      case 'Maximum':
      case 'Minimum':
        return this.merge(l, ins);
      case 'Flatten':
        return this.flatten(l, one());
      default:
        if (IDENTITY_LAYERS.has(l.class_name)) return this.simple(l, one(), 'Identity');
        // Unreachable after the check in importTfjsJson; kept so a new entry of SUPPORTED_LAYERS cannot slip through.
        return this.fail(l, 'unsupported layer type');
    }
  }

  /** A one-input node whose output is the layer's output, same shape. */
  private simple(l: KerasLayer, x: Val, op: string, attrs: Record<string, AttrValue> = {}): Val {
    this.node(op, l.name, [x.name], [l.name], attrs);
    return this.value(l.name, x.shape, { layer: l.name, kind: 'output' });
  }

  /** A Keras activation as a node from `input` to `output` (Identity for linear). */
  private activation(l: KerasLayer, x: Val, act: string, nodeName: string, output: string): Val {
    if (!(act in ACTIVATIONS)) this.fail(l, `activation ${act} is not supported (supported: ${Object.keys(ACTIVATIONS).join(', ')})`);
    const a = ACTIVATIONS[act];
    if (!a) this.node('Identity', nodeName, [x.name], [output]);
    else {
      const attrs = { ...(a.attrs ?? {}) };
      if (a.op === 'Softmax') attrs['axis'] = x.shape.length === 4 ? 1 : -1; // Keras: the last (channel) axis
      this.node(a.op, nodeName, [x.name], [output], attrs);
    }
    return this.value(output, x.shape, { layer: l.name, kind: 'output' });
  }

  /** Keras ReLU layer: max_value (ReLU6), negative_slope, threshold (tfjs-layers `advanced_activations.ts`). */
  private relu(l: KerasLayer, x: Val): Val {
    const c = l.config;
    const max = c['max_value'] === null || c['max_value'] === undefined ? null : num(c['max_value'], NaN);
    const slope = num(c['negative_slope'], 0);
    const threshold = num(c['threshold'], 0);
    if (threshold !== 0) this.fail(l, `threshold ${threshold} is not supported`);
    if (slope !== 0 && max !== null) this.fail(l, 'negative_slope together with max_value is not supported');
    if (max !== null) return this.simple(l, x, 'Clip', { min: 0, max });
    if (slope !== 0) return this.simple(l, x, 'LeakyRelu', { alpha: slope });
    return this.simple(l, x, 'Relu');
  }

  /** Conv2D / DepthwiseConv2D → Conv; a preceding single-use ZeroPadding2D is folded into `pads`. */
  private conv(l: KerasLayer, x: Val): Val {
    const c = l.config;
    const depthwise = l.class_name === 'DepthwiseConv2D';
    if (x.shape.length !== 4) this.fail(l, `input is rank ${x.shape.length}, expected [N, H, W, C]`);
    const cin = x.shape[3];
    if (cin === null || cin === undefined) this.fail(l, 'input channel count unknown');
    const [kh, kw] = pair(c['kernel_size'], l, this);
    const [sh, sw] = pair(c['strides'] ?? 1, l, this);
    const [dh, dw] = pair(c['dilation_rate'] ?? 1, l, this);
    const padding = c['padding'] ?? 'valid';
    if (padding !== 'valid' && padding !== 'same') this.fail(l, `padding ${String(padding)} is not supported`);
    const groups = num(c['groups'], 1);
    if (!depthwise && groups !== 1) this.fail(l, `groups=${groups} is not supported`);
    const mult = depthwise ? num(c['depth_multiplier'], 1) : 1;
    const cout = depthwise ? cin * mult : num(c['filters'], NaN);
    if (!Number.isInteger(cout) || cout <= 0) this.fail(l, 'no valid filters count');
    const useBias = c['use_bias'] !== false;
    const act = typeof c['activation'] === 'string' ? (c['activation'] as string) : 'linear';

    // Keras kernel [kh, kw, Cin, Cout] (depthwise: [kh, kw, C, mult]) → ONNX [Cout, Cin/group, kh, kw].
    const k = this.weight(l, depthwise ? 'depthwise_kernel' : 'kernel', depthwise ? [kh, kw, cin, mult] : [kh, kw, cin, cout]);
    const inPerGroup = depthwise ? 1 : cin;
    const w = new Float32Array(cout * inPerGroup * kh * kw);
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        for (let ci = 0; ci < cin; ci++) {
          for (let o = 0; o < (depthwise ? mult : cout); o++) {
            const src = ((i * kw + j) * cin + ci) * (depthwise ? mult : cout) + o;
            // Depthwise output channel ci·mult + o reads only input channel ci (TF's depthwise_conv2d order).
            const oc = depthwise ? ci * mult + o : o;
            const icg = depthwise ? 0 : ci;
            w[((oc * inPerGroup + icg) * kh + i) * kw + j] = k.data[src]!;
          }
        }
      }
    }
    const wName = this.constant(`${l.name}/kernel`, [cout, inPerGroup, kh, kw], w);
    const inputs = [x.name, wName];
    if (useBias) inputs.push(this.constant(`${l.name}/bias`, [cout], Float32Array.from(this.weight(l, 'bias', [cout]).data)));

    const attrs: Record<string, AttrValue> = {
      kernel_shape: [kh, kw],
      strides: [sh, sw],
      dilations: [dh, dw],
      group: depthwise ? cin : 1,
    };
    // TF SAME: out = ceil(in / stride), total padding split with the odd row/column at the end = ONNX SAME_UPPER.
    attrs['auto_pad'] = padding === 'same' ? 'SAME_UPPER' : 'VALID';
    // The output size is the same whether the padding is folded or not: x is the padded tensor.
    const outShape: KShape = [x.shape[0]!, convOut(x.shape[1]!, kh, sh, dh, 0, padding), convOut(x.shape[2]!, kw, sw, dw, 0, padding), cout];
    const padNode = this.producer.get(x.name);
    if (padNode?.opType === 'Pad' && padding === 'valid' && this.readers.get(padNode.name) === 1) {
      // ZeroPadding2D + valid conv (Keras' way to pad asymmetrically) = one conv with explicit pads, as tf2onnx folds it.
      const p = padNode.attrs['pads'] as number[]; // [0, 0, top, left, 0, 0, bottom, right]
      attrs['auto_pad'] = 'NOTSET';
      attrs['pads'] = [p[2]!, p[3]!, p[6]!, p[7]!];
      inputs[0] = padNode.inputs[0]!;
      this.nodes.splice(this.nodes.indexOf(padNode), 1);
      this.valueInfo.delete(x.name);
      this.sources.delete(x.name);
      this.producer.delete(x.name);
      this.foldedPaddings.set(padNode.name, l.name);
    }
    return this.convOutput(l, inputs, attrs, outShape, act);
  }

  /** Emits the Conv node and, for a fused activation, the activation after it. */
  private convOutput(l: KerasLayer, inputs: string[], attrs: Record<string, AttrValue>, shape: KShape, act: string): Val {
    if (act === 'linear') {
      this.node('Conv', l.name, inputs, [l.name], attrs);
      return this.value(l.name, shape, { layer: l.name, kind: 'output' });
    }
    const pre = `${l.name}/pre_activation`;
    this.node('Conv', l.name, inputs, [pre], attrs);
    const v = this.value(pre, shape, { layer: l.name, kind: 'pre-activation' });
    return this.activation(l, v, act, `${l.name}/${act}`, l.name);
  }

  /** Dense → Gemm on a [N, in] input (B = kernel [in, units], C = bias). */
  private dense(l: KerasLayer, x: Val): Val {
    const c = l.config;
    if (x.shape.length !== 2) this.fail(l, `input is rank ${x.shape.length}; only Dense on [N, features] is supported`);
    const fin = x.shape[1];
    if (fin === null || fin === undefined) this.fail(l, 'input feature count unknown');
    const units = num(c['units'], NaN);
    if (!Number.isInteger(units) || units <= 0) this.fail(l, 'no valid units count');
    const k = this.weight(l, 'kernel', [fin, units]);
    const inputs = [x.name, this.constant(`${l.name}/kernel`, [fin, units], Float32Array.from(k.data))];
    if (c['use_bias'] !== false) inputs.push(this.constant(`${l.name}/bias`, [units], Float32Array.from(this.weight(l, 'bias', [units]).data)));
    const attrs = { alpha: 1, beta: 1, transA: 0, transB: 0 };
    const act = typeof c['activation'] === 'string' ? (c['activation'] as string) : 'linear';
    const shape: KShape = [x.shape[0]!, units];
    if (act === 'linear') {
      this.node('Gemm', l.name, inputs, [l.name], attrs);
      return this.value(l.name, shape, { layer: l.name, kind: 'output' });
    }
    const pre = `${l.name}/pre_activation`;
    this.node('Gemm', l.name, inputs, [pre], attrs);
    const v = this.value(pre, shape, { layer: l.name, kind: 'pre-activation' });
    return this.activation(l, v, act, `${l.name}/${act}`, l.name);
  }

  /**
   * BatchNormalization over the channel axis (inference: (x − mean) / sqrt(var + eps) · gamma + beta): folded
   * into the conv before it when that conv has no fused activation and only this layer reads it; else a node.
   */
  private batchNorm(l: KerasLayer, x: Val): Val {
    const c = l.config;
    const rank = x.shape.length;
    const axis = num(Array.isArray(c['axis']) ? (c['axis'] as number[])[0] : c['axis'], -1);
    if (axis !== -1 && axis !== rank - 1) this.fail(l, `axis ${axis} is not the channel (last) axis`);
    const ch = x.shape[rank - 1];
    if (ch === null || ch === undefined) this.fail(l, 'channel count unknown');
    const eps = num(c['epsilon'], 1e-3);
    const gamma = c['scale'] === false ? null : this.weight(l, 'gamma', [ch]).data;
    const beta = c['center'] === false ? null : this.weight(l, 'beta', [ch]).data;
    const mean = this.weight(l, 'moving_mean', [ch]).data;
    const variance = this.weight(l, 'moving_variance', [ch]).data;
    // Per channel: y = x·s + t, s = gamma / sqrt(var + eps), t = beta − mean·s (float64 maths, stored as float32).
    const s = new Float64Array(ch);
    const t = new Float64Array(ch);
    for (let i = 0; i < ch; i++) {
      s[i] = (gamma ? gamma[i]! : 1) / Math.sqrt(variance[i]! + eps);
      t[i] = (beta ? beta[i]! : 0) - mean[i]! * s[i]!;
    }

    const conv = this.producer.get(x.name);
    const convLayer = conv?.opType === 'Conv' ? conv.name : null;
    if (conv && convLayer && conv.outputs[0] === convLayer && this.readers.get(convLayer) === 1) {
      const wName = conv.inputs[1]!;
      const w = this.constants.get(wName)!;
      const per = numel(w.dims) / ch;
      const folded = new Float32Array(w.data.length);
      for (let o = 0; o < ch; o++) for (let q = 0; q < per; q++) folded[o * per + q] = w.data[o * per + q]! * s[o]!;
      this.constants.set(wName, { ...w, data: folded });
      const bName = conv.inputs[2] ?? this.constant(`${convLayer}/bias`, [ch], new Float32Array(ch));
      const b0 = this.constants.get(bName)!.data;
      const bias = new Float32Array(ch);
      // TF.js computes the BN unfused in float32: its rounding is at the magnitude of each term, not of the sum.
      const errorScale = new Float32Array(ch);
      for (let o = 0; o < ch; o++) {
        bias[o] = b0[o]! * s[o]! + t[o]!;
        errorScale[o] = Math.abs(b0[o]! * s[o]!) + Math.abs(mean[o]! * s[o]!) + Math.abs(beta ? beta[o]! : 0);
      }
      this.constants.set(bName, { name: bName, dims: [ch], elemType: 1, data: bias, source: 'initializer' });
      const scaleName = biasErrorScaleName(bName);
      this.constants.set(scaleName, { name: scaleName, dims: [ch], elemType: 1, data: errorScale, source: 'initializer' });
      conv.inputs[2] = bName;
      // The conv's output value becomes the BN layer's output; nothing else read the conv's own output.
      this.valueInfo.delete(x.name);
      this.sources.delete(x.name);
      this.producer.delete(x.name);
      conv.outputs[0] = l.name;
      conv.attrs['folded_batch_norm'] = l.name;
      this.producer.set(l.name, conv);
      this.foldedBatchNorms.set(l.name, convLayer);
      return this.value(l.name, x.shape, { layer: l.name, kind: 'output' });
    }
    // Not foldable: an ONNX BatchNormalization with the Keras parameters (gamma 1 / beta 0 when absent).
    const scaleName = this.constant(`${l.name}/gamma`, [ch], Float32Array.from(gamma ?? new Float32Array(ch).fill(1)));
    const betaName = this.constant(`${l.name}/beta`, [ch], Float32Array.from(beta ?? new Float32Array(ch)));
    const meanName = this.constant(`${l.name}/moving_mean`, [ch], Float32Array.from(mean));
    const varName = this.constant(`${l.name}/moving_variance`, [ch], Float32Array.from(variance));
    this.node('BatchNormalization', l.name, [x.name, scaleName, betaName, meanName, varName], [l.name], { epsilon: eps });
    return this.value(l.name, x.shape, { layer: l.name, kind: 'output' });
  }

  private pool(l: KerasLayer, x: Val): Val {
    const c = l.config;
    if (x.shape.length !== 4) this.fail(l, `input is rank ${x.shape.length}, expected [N, H, W, C]`);
    const [kh, kw] = pair(c['pool_size'] ?? 2, l, this);
    const [sh, sw] = pair(c['strides'] ?? [kh, kw], l, this);
    const padding = c['padding'] ?? 'valid';
    if (padding !== 'valid' && padding !== 'same') this.fail(l, `padding ${String(padding)} is not supported`);
    const op = l.class_name === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool';
    const attrs: Record<string, AttrValue> = { kernel_shape: [kh, kw], strides: [sh, sw], auto_pad: padding === 'same' ? 'SAME_UPPER' : 'VALID' };
    // Keras averages over the valid (unpadded) window only: ONNX AveragePool's default count_include_pad = 0.
    if (op === 'AveragePool') attrs['count_include_pad'] = 0;
    this.node(op, l.name, [x.name], [l.name], attrs);
    const shape: KShape = [x.shape[0]!, convOut(x.shape[1]!, kh, sh, 1, 0, padding), convOut(x.shape[2]!, kw, sw, 1, 0, padding), x.shape[3]!];
    return this.value(l.name, shape, { layer: l.name, kind: 'output' });
  }

  /** Keras global pooling yields [N, C]: ONNX Global…Pool ([N, C, 1, 1]) then Flatten. */
  private globalPool(l: KerasLayer, x: Val): Val {
    if (x.shape.length !== 4) this.fail(l, `input is rank ${x.shape.length}, expected [N, H, W, C]`);
    if (l.config['keepdims'] === true) this.fail(l, 'keepdims=true is not supported');
    const mid = `${l.name}/pooled`;
    this.node(l.class_name === 'GlobalMaxPooling2D' ? 'GlobalMaxPool' : 'GlobalAveragePool', `${l.name}/pool`, [x.name], [mid]);
    this.value(mid, [x.shape[0]!, 1, 1, x.shape[3]!], null);
    this.node('Flatten', l.name, [mid], [l.name], { axis: 1 });
    return this.value(l.name, [x.shape[0]!, x.shape[3]!], { layer: l.name, kind: 'output' });
  }

  /** ZeroPadding2D → Pad (ONNX pads [0, 0, top, left, 0, 0, bottom, right]); folded later into a valid conv. */
  private zeroPad(l: KerasLayer, x: Val): Val {
    if (x.shape.length !== 4) this.fail(l, `input is rank ${x.shape.length}, expected [N, H, W, C]`);
    const p = l.config['padding'] ?? 1;
    let top: number, bottom: number, left: number, right: number;
    if (typeof p === 'number') top = bottom = left = right = p;
    else if (Array.isArray(p) && p.length === 2 && p.every((e) => typeof e === 'number')) {
      [top, left] = p as [number, number];
      [bottom, right] = [top, left];
    } else if (Array.isArray(p) && p.length === 2 && p.every((e) => Array.isArray(e) && e.length === 2)) {
      [[top, bottom], [left, right]] = p as [[number, number], [number, number]];
    } else return this.fail(l, `padding ${JSON.stringify(p)} is not understood`);
    this.node('Pad', l.name, [x.name], [l.name], { mode: 'constant', pads: [0, 0, top, left, 0, 0, bottom, right] });
    const add = (d: number | null, a: number) => (d === null ? null : d + a);
    return this.value(l.name, [x.shape[0]!, add(x.shape[1]!, top + bottom), add(x.shape[2]!, left + right), x.shape[3]!], { layer: l.name, kind: 'output' });
  }

  private concat(l: KerasLayer, ins: Val[]): Val {
    if (ins.length < 2) this.fail(l, `expects at least two inputs, has ${ins.length}`);
    const rank = ins[0]!.shape.length;
    if (!ins.every((v) => v.shape.length === rank)) this.fail(l, 'inputs differ in rank');
    const kAxis = normAxis(num(l.config['axis'], -1), rank, l, this);
    const shape = ins[0]!.shape.slice();
    shape[kAxis] = ins.reduce<number | null>((s, v) => (s === null || v.shape[kAxis] === null ? null : s + v.shape[kAxis]!), 0);
    this.node('Concat', l.name, ins.map((v) => v.name), [l.name], { axis: irAxis(kAxis, rank, l, this) });
    return this.value(l.name, shape, { layer: l.name, kind: 'output' });
  }

  /** Element-wise merges of same-shape inputs. */
  private merge(l: KerasLayer, ins: Val[]): Val {
    if (ins.length < 2) this.fail(l, `expects at least two inputs, has ${ins.length}`);
    const shape = ins[0]!.shape;
    if (!ins.every((v) => v.shape.join() === shape.join())) this.fail(l, 'inputs differ in shape (broadcasting merges are not supported)');
    const variadic: Record<string, string> = { Add: 'Sum', Average: 'Mean', Maximum: 'Max', Minimum: 'Min' };
    const binary: Record<string, string> = { Add: 'Add', Subtract: 'Sub', Multiply: 'Mul', Average: 'Mean', Maximum: 'Max', Minimum: 'Min' };
    let op: string;
    if (ins.length === 2) op = binary[l.class_name]!;
    else if (variadic[l.class_name]) op = variadic[l.class_name]!;
    else return this.fail(l, `${ins.length} inputs (only two are supported for ${l.class_name})`);
    this.node(op, l.name, ins.map((v) => v.name), [l.name]);
    return this.value(l.name, shape, { layer: l.name, kind: 'output' });
  }

  /** Flatten in Keras (H, W, C) order: a 4-D NCHW value is transposed back to NHWC first. */
  private flatten(l: KerasLayer, x: Val): Val {
    const size = x.shape.slice(1).reduce<number | null>((p, d) => (p === null || d === null ? null : p * d), 1);
    let src = x.name;
    if (x.shape.length === 4) {
      src = `${l.name}/nhwc`;
      this.node('Transpose', `${l.name}/nhwc`, [x.name], [src], { perm: [0, 2, 3, 1] });
      // Not a Keras tensor, and declared with its own (NHWC) dims rather than through value().
      this.valueInfo.set(src, { name: src, elemType: 1, dims: x.shape.map((d, i) => (i === 0 ? (d ?? 'N') : (d ?? -1))) });
    }
    this.node('Flatten', l.name, [src], [l.name], { axis: 1 });
    return this.value(l.name, [x.shape[0]!, size], { layer: l.name, kind: 'output' });
  }
}

// ---- helpers ----

function num(v: unknown, d: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : d;
}

/** A Keras int-or-pair (kernel_size, strides, dilation_rate, pool_size) → [h, w]. */
function pair(v: unknown, l: KerasLayer, b: { fail(l: KerasLayer, msg: string): never }): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((e) => Number.isInteger(e) && e > 0)) return [v[0], v[1]];
  return b.fail(l, `expected an integer or a pair, got ${JSON.stringify(v)}`);
}

/** Output size of a conv / pool along one axis (Keras conv_utils.convOutputLength); null stays unknown. */
function convOut(size: number | null, k: number, s: number, d: number, pad: number, padding: unknown): number | null {
  if (size === null) return null;
  if (padding === 'same') return Math.ceil(size / s);
  const extent = (k - 1) * d + 1;
  return Math.floor((size + pad - extent) / s) + 1;
}

/** A Keras axis (negative counts from the end) normalised to 0…rank−1. */
function normAxis(axis: number, rank: number, l: KerasLayer, b: { fail(l: KerasLayer, msg: string): never }): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 1 || a >= rank) return b.fail(l, `axis ${axis} is not a non-batch axis of a rank-${rank} tensor`);
  return a;
}

/** A Keras axis of an NHWC tensor → the IR (NCHW) axis; other ranks keep their axes. */
function irAxis(axis: number, rank: number, l: KerasLayer, b: { fail(l: KerasLayer, msg: string): never }): number {
  const a = normAxis(axis, rank, l, b);
  return rank === 4 ? [0, 2, 3, 1][a]! : a;
}
