/**
 * Reference execution (DESIGN.md §5 step 2): runs the model with onnxruntime-node on the CPU and captures, for every
 * supported sparse op, its real activation input and reference output (plus B / bias when they are not constants),
 * along with the model's own outputs.
 *
 * How: the captured value names are appended to the graph outputs of a copy of the decoded ModelProto (a
 * `ValueInfoProto` with only a name is enough for ORT), the model is re-encoded and an `InferenceSession` is
 * created from the bytes. Naming a value as a graph output also keeps ORT's graph optimizer from fusing it away.
 */
import { createRequire } from 'node:module';
import type * as OrtNs from 'onnxruntime-node';
import { conciseNativeMessage, InputError, ModelError, oneLine } from './errors.ts';
import type { FeedTensor, FeedType, NamedTensor, OnnxModel, TensorData, ValueInfo } from './ir.ts';
import { elemTypeName, formatDims, numel } from './ir.ts';
import { modelProto, onnx } from './onnx-import.ts';
import type { SparseOp } from './sparse-ops.ts';

const require = createRequire(import.meta.url);
// Loaded lazily: the native binding is only needed when a reference run actually happens.
let ortModule: typeof OrtNs | undefined;
function ort(): typeof OrtNs {
  ortModule ??= require('onnxruntime-node') as typeof OrtNs;
  return ortModule;
}

/** One op's captured tensors (float32, row-major, ONNX layout: NCHW for Conv). */
export interface CapturedOp {
  op: SparseOp;
  /** The activation operand (Conv X [N, C, H, W], MatMul/Gemm A). */
  input: NamedTensor;
  /** The op's output as ORT computed it (Conv Y [N, Cout, Ho, Wo], MatMul/Gemm Y). */
  output: NamedTensor;
  /** B, when it is not a constant of the model. */
  weight?: NamedTensor;
  /** Conv B / Gemm C, when present and not a constant. */
  bias?: NamedTensor;
}

/** The result of one reference run. */
export interface ReferenceCapture {
  /** Captured tensors per supported op, keyed by `SparseOp.index`; unsupported ops are absent. */
  ops: Map<number, CapturedOp>;
  /** The model's own graph outputs, in declaration order. */
  outputs: NamedTensor[];
  /** Wall time of `session.run`, ms. */
  ms: number;
}

/**
 * Feeds: one tensor for a single-input model, or tensors by model input name. A `TensorData` is float32; a
 * `FeedTensor` carries its element type, which must be the one the model input declares.
 */
export type ReferenceFeeds = TensorData | FeedTensor | Record<string, TensorData | FeedTensor>;

/** Options of a reference session. */
export interface ReferenceOptions {
  /** ORT intra-op threads (0 = ORT's default). */
  threads?: number;
}

/**
 * Throws when a tensor of shape `given` and element type `type` does not fit model input `info`: rank, fixed dims
 * (symbolic and unknown dims accept any size), and element type (the feed must already be in the declared type;
 * `core/inputs/convert.ts` converts files to it).
 *
 * @param source where the tensor came from (file path), for the message
 * @param type the feed's element type (default float32, what images and the legacy `loadInput` produce)
 * @throws InputError e.g. `input shape [1, 3, 64] (from a.npy) does not match model input "x": expected [N, 3, H, W]`
 *   or `model input "ids" expects int64, but is fed float32 (from ids.npy)`
 */
export function checkInputShape(info: ValueInfo, given: readonly number[], source?: string, type: FeedType = 'float32'): void {
  const from = source ? ` (from ${source})` : '';
  if (info.elemType !== 0 && elemTypeName(info.elemType) !== type) {
    throw new InputError(`model input "${info.name}" expects ${elemTypeName(info.elemType)}, but is fed ${type}${from}`, {
      path: source,
      input: info.name,
    });
  }
  if (info.dims === null) return;
  const ok =
    info.dims.length === given.length &&
    info.dims.every((d, i) => typeof d !== 'number' || d < 0 || d === given[i]);
  if (!ok) {
    throw new InputError(
      `input shape ${formatDims(given)}${from} does not match model input "${info.name}": expected ${formatDims(info.dims)}`,
      { path: source, input: info.name },
    );
  }
}

/**
 * A reusable ORT session over the model with the ops' tensors exposed as outputs. Create once, `run` per input,
 * `release` when done.
 */
export class ReferenceSession {
  private constructor(
    private readonly model: OnnxModel,
    private readonly ops: SparseOp[],
    private readonly session: OrtNs.InferenceSession,
    private readonly fetchNames: string[],
  ) {}

  /**
   * Builds the session.
   *
   * @param model imported model
   * @param ops ops to capture; unsupported ones are ignored
   * @throws ModelError `reference runtime rejected PATH: …` when ORT cannot load the model
   */
  static async create(model: OnnxModel, ops: readonly SparseOp[], options: ReferenceOptions = {}): Promise<ReferenceSession> {
    const supported = ops.filter((o) => o.supported);
    const inputNames = new Set(model.inputs.map((i) => i.name));
    const graphOutputs = new Set(model.outputs.map((o) => o.name));
    const extra: string[] = [];
    const want = (name: string | undefined): void => {
      // Graph inputs come from the feeds and constants from the IR; neither can (or needs to) be fetched.
      if (!name || inputNames.has(name) || model.constants.has(name) || graphOutputs.has(name)) return;
      if (!extra.includes(name)) extra.push(name);
    };
    for (const op of supported) {
      want(op.inputName);
      want(op.outputName);
      if (!op.weightConstant) want(op.weightName);
      if (op.biasName && !op.biasConstant) want(op.biasName);
    }

    // Shallow copies: the imported proto stays untouched, only the output list differs.
    const proto = modelProto(model);
    const graph = onnx.GraphProto.create({ ...proto.graph!, output: [...proto.graph!.output!, ...extra.map((name) => onnx.ValueInfoProto.create({ name }))] });
    const bytes = onnx.ModelProto.encode(onnx.ModelProto.create({ ...proto, graph })).finish();

    let session: OrtNs.InferenceSession;
    try {
      session = await ort().InferenceSession.create(bytes, {
        executionProviders: ['cpu'],
        // Errors are rethrown with context; ORT's own log line would only duplicate them on stderr.
        logSeverityLevel: 4,
        intraOpNumThreads: options.threads ?? 0,
      });
    } catch (err) {
      throw new ModelError(`reference runtime rejected ${model.path}: ${conciseNativeMessage(oneLine(err))}`, { path: model.path, cause: err });
    }
    return new ReferenceSession(model, supported, session, [...model.outputs.map((o) => o.name), ...extra]);
  }

  /**
   * Runs the model once and captures the ops' tensors.
   *
   * @param feeds one tensor (single-input models) or tensors by input name, each float32 (`TensorData`) or in the
   *   element type its model input declares (`FeedTensor`)
   * @throws InputError when a model input is missing, or a feed's shape/type does not fit its model input (checked
   *   before ORT runs); ModelError `reference run of PATH failed at node NAME (OpType): …` when ORT fails
   */
  async run(feeds: ReferenceFeeds): Promise<ReferenceCapture> {
    const o = ort();
    const byName = normalizeFeeds(this.model, feeds);
    const ortFeeds: Record<string, OrtNs.Tensor> = {};
    for (const info of this.model.inputs) {
      const t = byName[info.name]!;
      const type = feedType(t);
      checkInputShape(info, t.dims, undefined, type);
      if (t.data.length !== numel(t.dims)) {
        throw new InputError(
          `input "${info.name}" has ${t.data.length} values but shape ${formatDims(t.dims)} needs ${numel(t.dims)}`,
          { input: info.name },
        );
      }
      ortFeeds[info.name] = new o.Tensor(type, t.data as never, t.dims);
    }

    let results: OrtNs.InferenceSession.ReturnType;
    const t0 = performance.now();
    try {
      results = await this.session.run(ortFeeds, this.fetchNames);
    } catch (err) {
      throw this.wrapRunError(err);
    }
    const ms = performance.now() - t0;

    const get = (name: string): NamedTensor => {
      const fed = byName[name];
      if (fed) {
        if (feedType(fed) !== 'float32') {
          throw new ModelError(`${this.model.path}: input ${name} is ${feedType(fed)}; PIT Studio profiles float32 tensors only`, { path: this.model.path });
        }
        return { name, dims: fed.dims.slice(), data: fed.data as Float32Array };
      }
      const r = results[name];
      if (!r) throw new ModelError(`reference run of ${this.model.path} did not produce ${name}`, { path: this.model.path });
      if (r.type !== 'float32') {
        throw new ModelError(`${this.model.path}: value ${name} is ${r.type}; PIT Studio profiles float32 tensors only`, {
          path: this.model.path,
        });
      }
      return { name, dims: r.dims.map(Number), data: r.data as Float32Array };
    };

    const ops = new Map<number, CapturedOp>();
    for (const op of this.ops) {
      const c: CapturedOp = { op, input: get(op.inputName), output: get(op.outputName) };
      if (!op.weightConstant) c.weight = get(op.weightName);
      if (op.biasName && !op.biasConstant) c.bias = get(op.biasName);
      ops.set(op.index, c);
    }
    const outputs = this.model.outputs.map((v) => {
      const r = results[v.name]!;
      // Outputs of other types are converted for the record; int64 ones arrive as BigInt64Array, which
      // Float32Array.from refuses without a mapping function.
      const data = r.type === 'float32' ? (r.data as Float32Array) : Float32Array.from(r.data as ArrayLike<number | bigint | string>, (x) => Number(x));
      return { name: v.name, dims: r.dims.map(Number), data };
    });
    return { ops, outputs, ms };
  }

  /** Frees the native session. */
  async release(): Promise<void> {
    await this.session.release();
  }

  /** ORT error → ModelError naming the failing node (ORT reports `… running Conv node. Name:'p2o.Conv.3' …`). */
  private wrapRunError(err: unknown): ModelError {
    const msg = oneLine(err);
    const m = /running (\w+) node\. Name:'([^']*)'/.exec(msg);
    const status = conciseNativeMessage(/Status Message: (.*)$/.exec(msg)?.[1] ?? msg);
    if (m) {
      const [, opType, node] = m;
      const sparse = this.ops.find((o) => o.name === node);
      const which = sparse ? ` (sparse op #${sparse.index})` : '';
      return new ModelError(`reference run of ${this.model.path} failed at node ${node} (${opType})${which}: ${status}`, {
        path: this.model.path,
        node,
        cause: err,
      });
    }
    return new ModelError(`reference run of ${this.model.path} failed: ${conciseNativeMessage(msg)}`, { path: this.model.path, cause: err });
  }
}

/**
 * One-shot reference capture: create a session, run it on `feeds`, release it.
 *
 * @param model imported model
 * @param ops sparse ops (`findSparseOps`); unsupported ones are skipped
 * @param feeds one float32 tensor for a single-input model, or tensors by input name
 * @returns per-op captured tensors (by `SparseOp.index`) and the model outputs. Memory: every captured op's input
 *   and output stay alive (float32); pass a subset of ops for big inputs.
 * @throws InputError / ModelError as `ReferenceSession.create` and `run`
 */
export async function captureReference(model: OnnxModel, ops: readonly SparseOp[], feeds: ReferenceFeeds, options?: ReferenceOptions): Promise<ReferenceCapture> {
  const s = await ReferenceSession.create(model, ops, options);
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

/** The element type of a feed: a `FeedTensor`'s own, float32 for a plain `TensorData`. */
function feedType(t: TensorData | FeedTensor): FeedType {
  return 'type' in t ? t.type : 'float32';
}

/**
 * Feeds by model input name; a bare tensor goes to the only input.
 * @throws InputError when a multi-input model gets one bare tensor, or a model input has no tensor
 */
export function normalizeFeeds(model: OnnxModel, feeds: ReferenceFeeds): Record<string, TensorData | FeedTensor> {
  const bare = 'dims' in feeds && 'data' in feeds && Array.isArray(feeds.dims) && ArrayBuffer.isView(feeds.data);
  if (bare) {
    if (model.inputs.length !== 1) {
      throw new InputError(
        `${model.path} has ${model.inputs.length} inputs (${model.inputs.map((i) => i.name).join(', ')}); give a tensor per input name`,
      );
    }
    return { [model.inputs[0]!.name]: feeds as TensorData | FeedTensor };
  }
  const byName = feeds as Record<string, TensorData | FeedTensor>;
  for (const info of model.inputs) {
    if (!byName[info.name]) {
      throw new InputError(`no tensor given for model input "${info.name}" ${formatDims(info.dims)}`, { input: info.name });
    }
  }
  return byName;
}

/**
 * Runs a model given as bytes once and returns the named values as float32 (BigInt and bool values through Number):
 * how the branch inliner computes `If` conditions that depend on the inputs.
 *
 * @param bytes a serialized ModelProto whose graph outputs include `names`
 * @param label the model's path, for messages
 * @param feeds a tensor per graph input (float32 `TensorData` or a typed `FeedTensor`)
 * @throws ModelError `reference runtime rejected LABEL: …` or `reference run of LABEL failed: …`
 */
export async function evaluateValues(
  bytes: Uint8Array,
  label: string,
  feeds: Record<string, TensorData | FeedTensor>,
  names: readonly string[],
): Promise<Map<string, TensorData>> {
  const o = ort();
  let session: OrtNs.InferenceSession;
  try {
    session = await o.InferenceSession.create(bytes, { executionProviders: ['cpu'], logSeverityLevel: 4 });
  } catch (err) {
    throw new ModelError(`reference runtime rejected ${label}: ${oneLine(err)}`, { path: label, cause: err });
  }
  try {
    const ortFeeds: Record<string, OrtNs.Tensor> = {};
    for (const name of session.inputNames) {
      const t = feeds[name];
      if (!t) throw new InputError(`no tensor given for model input "${name}"`, { input: name });
      ortFeeds[name] = new o.Tensor(feedType(t), t.data as never, t.dims);
    }
    let results: OrtNs.InferenceSession.ReturnType;
    try {
      results = await session.run(ortFeeds, [...names]);
    } catch (err) {
      throw new ModelError(`reference run of ${label} failed: ${oneLine(err)}`, { path: label, cause: err });
    }
    const out = new Map<string, TensorData>();
    for (const name of names) {
      const r = results[name]!;
      out.set(name, { dims: r.dims.map(Number), data: Float32Array.from(r.data as ArrayLike<number | bigint>, Number) });
    }
    return out;
  } finally {
    await session.release();
  }
}
