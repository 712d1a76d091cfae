/**
 * A small graph IR for ONNX models: just what PIT Studio needs to find sparse-capable operators, lower them to
 * matmuls and drive the reference executor. It is produced by `importOnnx` (`onnx-import.ts`); the decoded
 * `ModelProto` is kept alongside so the reference step can add graph outputs and re-encode the model.
 *
 * Follows the ONNX IR (onnx/onnx.proto, v1.10 as shipped by `onnx-proto` 8): tensors are row-major (C order),
 * dims are element counts.
 *
 * Other formats are imported into the same IR, expressed as ONNX operators with ONNX (NCHW) semantics, so that
 * operator discovery and lowering need not know where a model came from: TF.js layers models
 * (`tfjs-import.ts`, `format: 'tfjs-layers'`) map Keras layers to ONNX op types and their NHWC tensors to NCHW
 * values. `importModel` (`import.ts`) picks the importer from the file.
 */

/** A dimension of a graph input/output: a number when fixed, the `dim_param` string when symbolic, -1 when unknown. */
export type Dim = number | string;

/** ONNX `TensorProto.DataType` codes we name; other codes are kept as numbers. */
export const ELEM_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'undefined',
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  14: 'complex64',
  15: 'complex128',
  16: 'bfloat16',
};

/** The name of an ONNX element type code, e.g. `1` → `float32`; unknown codes read `type(N)`. */
export function elemTypeName(code: number): string {
  return ELEM_TYPE_NAMES[code] ?? `type(${code})`;
}

/** A typed graph value (graph input, graph output or `value_info` entry). */
export interface ValueInfo {
  name: string;
  /** ONNX element type code (`TensorProto.DataType`; 1 = float32); 0 when the value is not a tensor or untyped. */
  elemType: number;
  /** Shape as declared, `null` when the model declares no shape (rank unknown). */
  dims: Dim[] | null;
}

/**
 * A constant tensor: an initializer or the `value` of a `Constant` node, decoded.
 * `data` always holds the values as float32 (row-major, `dims` order); integer tensors additionally keep exact
 * values in `ints` (int64 beyond ±2^53 lose precision, which shape tensors never reach).
 */
export interface ConstTensor {
  name: string;
  dims: number[];
  /** ONNX element type code of the stored tensor. */
  elemType: number;
  /** Values converted to float32, row-major; length = product of `dims` (1 for a scalar). */
  data: Float32Array;
  /** Exact values for integer and bool tensors (shapes, axes, indices). */
  ints?: number[];
  /** Where the tensor came from. */
  source: 'initializer' | 'constant-node';
}

/** A decoded attribute value, as plain JS. Tensors are decoded like constants; subgraphs are only named. */
export type AttrValue =
  | number
  | string
  | number[]
  | string[]
  | ConstTensor
  | ConstTensor[]
  | { graph: string }
  | { graphs: string[] }
  | null;

/** One graph node. */
export interface OnnxNode {
  /** Position in `graph.node` (topological order, as ONNX requires). */
  index: number;
  /** The node's name, or `${opType}_${index}` when the file leaves it empty. */
  name: string;
  opType: string;
  /** Operator domain; '' is the default ONNX domain. */
  domain: string;
  /** Input value names; '' marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
}

/** The file format a model was imported from. */
export type ModelFormat = 'onnx' | 'tfjs-layers';

/** An imported model: the IR plus provenance and the decoded protobuf. */
export interface OnnxModel {
  /** Source format; absent means ONNX (models built before other formats existed leave it out). */
  format?: ModelFormat;
  /** Absolute path of the file, or a label for in-memory models. */
  path: string;
  /** sha256 of the file bytes, lowercase hex. */
  sha256: string;
  /** Size of the file, bytes. */
  byteLength: number;
  irVersion: number;
  /** Opset version of the default ('' / 'ai.onnx') domain; 0 when not declared. */
  opset: number;
  producer: string;
  /** Graph inputs that are fed at run time (initializers listed as inputs, as IR < 4 does, are left out). */
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  /** Shapes/types of intermediate values the file declares (`graph.value_info`), by name; often empty. */
  valueInfo: Map<string, ValueInfo>;
  nodes: OnnxNode[];
  /** Initializers and `Constant` node outputs, by value name. */
  constants: Map<string, ConstTensor>;
  /**
   * The decoded `onnx.ModelProto` (onnx-proto / protobufjs 6 message). Treat as read-only: the reference step
   * copies its graph outputs before adding its own. null for models of another format.
   */
  proto: unknown;
  /**
   * `If` nodes whose taken branch was inlined into the main graph (`branches.ts`), in the order they were inlined;
   * absent when none was.
   */
  inlinedBranches?: InlinedBranch[];
  /** Why a control-flow node (by name) was left as it is, e.g. an `If` whose condition differs between samples. */
  subgraphNotes?: Map<string, string>;
}

/** One `If` replaced by the nodes of the branch its condition took. */
export interface InlinedBranch {
  /** Name of the `If` node. */
  node: string;
  /** `then_branch` or `else_branch`. */
  branch: 'then_branch' | 'else_branch';
  /** How the condition was decided: a constant, a graph input, or computed by onnxruntime from the inputs. */
  decidedBy: 'constant' | 'input' | 'computed';
}

/** A dense float32 tensor, row-major. */
export interface TensorData {
  dims: number[];
  /** Row-major values; length = product of `dims`. */
  data: Float32Array;
}

/**
 * Element types a model input can be fed as, named as onnxruntime-node names them (ONNX `TensorProto.DataType`:
 * float32 = 1, uint8 = 2, int8 = 3, uint16 = 4, int16 = 5, int32 = 6, int64 = 7, bool = 9, float16 = 10,
 * float64 = 11, uint32 = 12, uint64 = 13).
 */
export type FeedType =
  | 'float32'
  | 'float16'
  | 'float64'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'bool';

/** The typed array holding a `FeedTensor` of each `FeedType`. */
export interface FeedArrays {
  float32: Float32Array;
  /** IEEE 754 half-precision bit patterns. */
  float16: Uint16Array;
  float64: Float64Array;
  int64: BigInt64Array;
  int32: Int32Array;
  int16: Int16Array;
  int8: Int8Array;
  uint8: Uint8Array;
  uint16: Uint16Array;
  uint32: Uint32Array;
  uint64: BigUint64Array;
  /** 0 or 1 per element. */
  bool: Uint8Array;
}

/**
 * A tensor fed to a model input in the element type the input declares (row-major, `dims` order). `data` is the
 * `FeedArrays[type]` typed array of length product(`dims`) (1 for a scalar `[]`).
 */
export interface FeedTensor {
  dims: number[];
  type: FeedType;
  data: FeedArrays[FeedType];
}

/** The `FeedType` of an ONNX element type code, or null for types that cannot be fed (string, complex, bfloat16…). */
export function feedTypeOf(elemType: number): FeedType | null {
  const name = ELEM_TYPE_NAMES[elemType];
  const feedable: readonly string[] = ['float32', 'float16', 'float64', 'int64', 'int32', 'int16', 'int8', 'uint8', 'uint16', 'uint32', 'uint64', 'bool'];
  return name && feedable.includes(name) ? (name as FeedType) : null;
}

/** A captured (named) tensor. */
export interface NamedTensor extends TensorData {
  name: string;
}

/** Number of elements of a shape (1 for a scalar `[]`). */
export function numel(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** `[1, 3, H, W]` style rendering of a shape, symbolic dims as their names and unknown dims as `?`. */
export function formatDims(dims: readonly Dim[] | null): string {
  if (dims === null) return '[?…]';
  return `[${dims.map((d) => (typeof d === 'number' ? (d < 0 ? '?' : String(d)) : d)).join(', ')}]`;
}
