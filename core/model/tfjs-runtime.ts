/**
 * TF.js, loaded once per process on a chosen backend, behind the few structural types PIT Studio uses.
 *
 * Why not TF.js' own declarations: `@tensorflow/tfjs-core` 4.22 pulls in `@webgpu/types` 0.1.38 through a
 * triple-slash reference, whose global `GPUFeatureName` lacks names (`subgroups`) that our own WebGPU code needs from
 * the project's newer `@webgpu/types`. The interfaces below are the subset of the TF.js 4 API
 * (`tfjs-core/src/ops`, `tfjs-layers/src/engine/training.ts`) that the reference run and its tests call; the
 * modules themselves are the real TF.js, loaded with `require`.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { ModelError, oneLine } from './errors.ts';

const require = createRequire(import.meta.url);

/** The TF.js backend of the reference run: `wasm` (XNNPACK in WebAssembly) or `cpu` (pure JS). */
export type TfjsBackend = 'wasm' | 'cpu';

/** A TF.js tensor (tfjs-core `Tensor`). */
export interface TfTensor {
  readonly shape: number[];
  readonly rank: number;
  readonly dtype: string;
  data(): Promise<Float32Array | Int32Array | Uint8Array>;
  dataSync(): Float32Array | Int32Array | Uint8Array;
  dispose(): void;
}

/** A Keras symbolic tensor (tfjs-layers `SymbolicTensor`). */
export interface TfSymbolicTensor {
  readonly shape: (number | null)[];
  readonly sourceLayer: TfLayer;
}

/** A Keras layer (tfjs-layers `Layer`). */
export interface TfLayer {
  readonly name: string;
  getClassName(): string;
  getConfig(): Record<string, unknown>;
  getWeights(): TfTensor[];
  readonly input: TfSymbolicTensor | TfSymbolicTensor[];
  readonly output: TfSymbolicTensor | TfSymbolicTensor[];
}

/** A Keras model (tfjs-layers `LayersModel`). */
export interface TfLayersModel {
  readonly inputs: TfSymbolicTensor[];
  readonly outputs: TfSymbolicTensor[];
  readonly layers: TfLayer[];
  getLayer(name: string): TfLayer;
  predict(x: TfTensor | TfTensor[]): TfTensor | TfTensor[];
  dispose(): unknown;
}

/** The tfjs-core functions used (`@tensorflow/tfjs-core` 4). Shapes are NHWC where TF.js says so. */
export interface TfCore {
  tensor(values: Float32Array | number[], shape?: number[], dtype?: 'float32'): TfTensor;
  transpose(x: TfTensor, perm: number[]): TfTensor;
  add(a: TfTensor, b: TfTensor): TfTensor;
  matMul(a: TfTensor, b: TfTensor): TfTensor;
  conv2d(x: TfTensor, filter: TfTensor, strides: [number, number], pad: 'valid' | 'same', dataFormat: 'NHWC', dilations: [number, number]): TfTensor;
  depthwiseConv2d(x: TfTensor, filter: TfTensor, strides: [number, number], pad: 'valid' | 'same', dataFormat: 'NHWC', dilations: [number, number]): TfTensor;
  tidy<T extends TfTensor>(fn: () => T): T;
  image: { resizeBilinear(x: TfTensor, size: [number, number], alignCorners?: boolean): TfTensor };
  setBackend(name: string): Promise<boolean>;
  getBackend(): string;
  ready(): Promise<void>;
  io: { fromMemory(artifacts: { modelTopology: unknown; weightSpecs: unknown[]; weightData: ArrayBuffer }): unknown };
}

/** The tfjs-layers functions used. */
export interface TfLayersApi {
  loadLayersModel(handler: unknown): Promise<TfLayersModel>;
  model(args: { inputs: TfSymbolicTensor[]; outputs: TfSymbolicTensor[] }): TfLayersModel;
}

/** TF.js core and layers, on a started backend. */
export interface Tfjs {
  tf: TfCore;
  layers: TfLayersApi;
  backend: TfjsBackend;
}

let loaded: { tf: TfCore; layers: TfLayersApi } | undefined;
let started: Promise<void> | undefined;
let active: TfjsBackend | undefined;

/**
 * TF.js on `backend`, started once per process (TF.js' engine is global). The wasm binaries are read from the
 * installed `@tensorflow/tfjs-backend-wasm` package's `dist/` folder, never fetched.
 *
 * @throws ModelError when the backend does not start, or this process already runs TF.js on another backend
 */
export async function tfjsRuntime(backend: TfjsBackend = 'wasm'): Promise<Tfjs> {
  if (active && active !== backend) {
    throw new ModelError(`TF.js already runs on its ${active} backend in this process; it cannot switch to ${backend}`);
  }
  active = backend;
  loaded ??= { tf: require('@tensorflow/tfjs-core') as TfCore, layers: require('@tensorflow/tfjs-layers') as TfLayersApi };
  const { tf } = loaded;
  started ??= (async () => {
    if (backend === 'wasm') {
      const wasm = require('@tensorflow/tfjs-backend-wasm') as { setWasmPaths(prefix: string): void };
      const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
      wasm.setWasmPaths(`${dist}/`);
    } else {
      require('@tensorflow/tfjs-backend-cpu');
    }
    let ok: boolean;
    try {
      ok = await tf.setBackend(backend);
    } catch (err) {
      throw new ModelError(`the TF.js ${backend} backend did not start: ${oneLine(err)}`, { cause: err });
    }
    if (!ok) throw new ModelError(`the TF.js ${backend} backend did not start`);
    await tf.ready();
  })();
  try {
    await started;
  } catch (err) {
    started = undefined;
    active = undefined;
    throw err;
  }
  return { ...loaded, backend };
}
