/**
 * Reference execution of TF.js layers models (DESIGN.md §5 step 2, the counterpart of `reference.ts` for ONNX):
 * TF.js itself (`@tensorflow/tfjs-layers` on the `@tensorflow/tfjs-backend-wasm` backend, XNNPACK in WebAssembly;
 * pure JS + wasm shipped in the packages, no native binary) loads the model from the same model.json topology and
 * weight bytes — dequantising them with its own code, not ours — and runs it on the real input. Every supported
 * sparse op's input and output are captured in the IR's shapes: 4-D tensors come back NHWC from TF.js and are
 * transposed to NCHW, the layout `lowering.ts` reads.
 *
 * How a value is found (`TfjsModel.tfjs.sources`): a layer's output tensor is a Keras symbolic tensor, fetched by
 * one multi-output `tf.model` over the loaded model (the way nsfwjs' own `infer(img, endpoint)` reads intermediate
 * layers). A folded BatchNormalization's output is the BN layer's tensor. The output of a Conv2D / DepthwiseConv2D /
 * Dense before its fused activation is not a Keras tensor: it is computed with TF.js' own `conv2d` /
 * `depthwiseConv2d` / `matMul` on the layer's input tensor and weights.
 */
import { InputError, ModelError, oneLine } from './errors.ts';
import type { NamedTensor } from './ir.ts';
import { formatDims, numel } from './ir.ts';
import type { CapturedOp, ReferenceCapture, ReferenceFeeds } from './reference.ts';
import { checkInputShape, normalizeFeeds } from './reference.ts';
import type { SparseOp } from './sparse-ops.ts';
import type { TfjsModel, TfjsValueSource } from './tfjs-import.ts';
import { tfjsRuntime, type TfCore, type Tfjs, type TfjsBackend, type TfLayersModel, type TfSymbolicTensor, type TfTensor } from './tfjs-runtime.ts';

/** Options of a TF.js reference session. */
export interface TfjsReferenceOptions {
  /** `wasm` (default: XNNPACK, ~20× the pure-JS kernels on MobileNetV2) or `cpu` (pure JS). */
  backend?: TfjsBackend;
}

/**
 * A TF.js session over a TF.js layers model with the ops' tensors exposed. Create once, `run` per input, `release`
 * when done.
 */
export class TfjsReferenceSession {
  /** Runtime name for progress messages. */
  readonly runtime: string;

  private constructor(
    private readonly model: TfjsModel,
    private readonly ops: SparseOp[],
    private readonly tfjs: Tfjs,
    private readonly layersModel: TfLayersModel,
    /** Multi-output model over the Keras tensors fetched (null when every value is a model input). */
    private readonly fetchModel: TfLayersModel | null,
    /** Keras layer names whose output tensors `fetchModel` returns, in its output order. */
    private readonly fetchLayers: string[],
  ) {
    this.runtime = `TF.js ${tfjs.backend}`;
  }

  /**
   * Loads the model into TF.js and prepares the fetches.
   *
   * @param model imported TF.js layers model (`importTfjs`)
   * @param ops ops to capture; unsupported ones are ignored
   * @throws ModelError `reference runtime (TF.js) rejected PATH: …` when TF.js cannot load the model, or a value has
   *   no Keras source
   */
  static async create(model: TfjsModel, ops: readonly SparseOp[], options: TfjsReferenceOptions = {}): Promise<TfjsReferenceSession> {
    const tfjs = await tfjsRuntime(options.backend ?? 'wasm');
    const { tf, layers } = tfjs;
    const supported = ops.filter((o) => o.supported);
    const data = model.tfjs.weights.data;
    let lm: TfLayersModel;
    try {
      lm = await layers.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: model.tfjs.modelTopology,
          weightSpecs: model.tfjs.weights.specs,
          // A copy: TF.js keeps the buffer, and the IR's bytes may be a view into a larger one.
          weightData: data.slice().buffer,
        }),
      );
    } catch (err) {
      throw new ModelError(`reference runtime (TF.js) rejected ${model.path}: ${oneLine(err)}`, { path: model.path, cause: err });
    }

    const fetchLayers: string[] = [];
    const want = (layer: string): void => {
      if (lm.getLayer(layer).getClassName() === 'InputLayer') return; // fed, not fetched
      if (!fetchLayers.includes(layer)) fetchLayers.push(layer);
    };
    const source = (name: string): TfjsValueSource => {
      const s = model.tfjs.sources.get(name);
      if (!s) throw new ModelError(`${model.path}: value ${name} has no TF.js tensor to capture`, { path: model.path });
      return s;
    };
    const need = (name: string): void => {
      const s = source(name);
      if (s.kind === 'output') want(s.layer);
      else want(inboundLayer(lm, s.layer));
    };
    for (const op of supported) {
      need(op.inputName);
      need(op.outputName);
    }
    for (const o of model.outputs) need(o.name);
    const fetchModel = fetchLayers.length
      ? layers.model({ inputs: lm.inputs, outputs: fetchLayers.map((l) => lm.getLayer(l).output as TfSymbolicTensor) })
      : null;
    return new TfjsReferenceSession(model, supported, tfjs, lm, fetchModel, fetchLayers);
  }

  /**
   * Runs the model once and captures the ops' tensors.
   *
   * @param feeds NCHW float32 tensors (one for a single-input model, else by input name), as the IR's inputs declare
   * @throws InputError when an input is missing or its shape does not fit; ModelError when TF.js fails
   */
  async run(feeds: ReferenceFeeds): Promise<ReferenceCapture> {
    const { tf } = this.tfjs;
    const byName = normalizeFeeds(this.model, feeds);
    const owned: TfTensor[] = [];
    const keep = (t: TfTensor): TfTensor => (owned.push(t), t);
    try {
      // Keras tensors by layer name: the fed inputs (NHWC), then everything fetched.
      const tensors = new Map<string, TfTensor>();
      for (const info of this.model.inputs) {
        const t = byName[info.name]!;
        checkInputShape(info, t.dims);
        if (t.data.length !== numel(t.dims)) {
          throw new InputError(`input "${info.name}" has ${t.data.length} values but shape ${formatDims(t.dims)} needs ${numel(t.dims)}`, { input: info.name });
        }
        // Keras image models take float32; a typed feed of another element type is converted (it was checked above).
        const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>);
        const x = keep(tf.tensor(data, t.dims, 'float32'));
        tensors.set(info.name, t.dims.length === 4 ? keep(tf.transpose(x, [0, 2, 3, 1])) : x);
      }
      const t0 = performance.now();
      if (this.fetchModel) {
        let outs: TfTensor | TfTensor[];
        try {
          outs = this.fetchModel.predict(this.model.inputs.map((i) => tensors.get(i.name)!));
        } catch (err) {
          throw new ModelError(`reference run (TF.js) of ${this.model.path} failed: ${oneLine(err)}`, { path: this.model.path, cause: err });
        }
        const list = Array.isArray(outs) ? outs : [outs];
        list.forEach((t, i) => tensors.set(this.fetchLayers[i]!, keep(t)));
      }

      const values = new Map<string, NamedTensor>();
      const get = async (name: string): Promise<NamedTensor> => {
        const cached = values.get(name);
        if (cached) return cached;
        const s = this.model.tfjs.sources.get(name)!;
        const t = s.kind === 'output' ? tensors.get(s.layer)! : keep(this.preActivation(s.layer, tensors));
        const v = await toIr(tf, name, t, keep);
        values.set(name, v);
        return v;
      };
      const ops = new Map<number, CapturedOp>();
      for (const op of this.ops) ops.set(op.index, { op, input: await get(op.inputName), output: await get(op.outputName) });
      const outputs: NamedTensor[] = [];
      for (const o of this.model.outputs) outputs.push(await get(o.name));
      return { ops, outputs, ms: performance.now() - t0 };
    } finally {
      for (const t of owned) t.dispose();
    }
  }

  /** Frees the TF.js models and their weights. */
  async release(): Promise<void> {
    this.layersModel.dispose();
  }

  /**
   * The output of a Conv2D / DepthwiseConv2D / Dense before its fused activation, from its input tensor and weights,
   * with TF.js' own ops (NHWC).
   */
  private preActivation(layerName: string, tensors: Map<string, TfTensor>): TfTensor {
    const { tf } = this.tfjs;
    const layer = this.layersModel.getLayer(layerName);
    const x = tensors.get(inboundLayer(this.layersModel, layerName))!;
    const [kernel, bias] = layer.getWeights();
    const c = layer.getConfig() as { strides?: number[]; padding?: string; dilation_rate?: number[]; use_bias?: boolean };
    const cls = layer.getClassName();
    return tf.tidy(() => {
      let y: TfTensor;
      if (cls === 'Dense') y = tf.matMul(x, kernel!);
      else {
        const strides = (c.strides ?? [1, 1]) as [number, number];
        const dil = (c.dilation_rate ?? [1, 1]) as [number, number];
        const pad = (c.padding ?? 'valid') as 'valid' | 'same';
        y =
          cls === 'DepthwiseConv2D'
            ? tf.depthwiseConv2d(x, kernel!, strides, pad, 'NHWC', dil)
            : tf.conv2d(x, kernel!, strides, pad, 'NHWC', dil);
      }
      return c.use_bias === false || !bias ? y : tf.add(y, bias);
    });
  }
}

/** The layer feeding `layerName` (the importer accepts only single-input layers for pre-activation values). */
function inboundLayer(lm: TfLayersModel, layerName: string): string {
  const input = lm.getLayer(layerName).input as TfSymbolicTensor;
  return input.sourceLayer.name;
}

/** A Keras tensor → an IR tensor: 4-D NHWC transposed to NCHW, others as they are; float32 values. */
async function toIr(tf: TfCore, name: string, t: TfTensor, keep: (t: TfTensor) => TfTensor): Promise<NamedTensor> {
  const x = t.rank === 4 ? keep(tf.transpose(t, [0, 3, 1, 2])) : t;
  const data = (await x.data()) as Float32Array;
  return { name, dims: x.shape.slice(), data: data instanceof Float32Array ? data : Float32Array.from(data) };
}
