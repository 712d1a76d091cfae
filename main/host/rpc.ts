/**
 * The host's RPC surface at run time: the list of methods, parameter validation and the error type. Pure (no
 * Node, no Electron) so the preload can bundle the method list for its allow-list and tests can run it anywhere.
 *
 * Validation is strict on purpose: an unknown method, a missing or mistyped parameter, or an unknown parameter
 * name is rejected with one line saying which, before anything touches the GPU or the database.
 */
import type { HostMethod, HostMethods, RpcErrorCode, RpcErrorPayload } from '../../core/protocol.ts';

/** A request the host refuses or could not serve; `code` is for programs, `message` (one line) for people. */
export class RpcError extends Error {
  override name = 'RpcError';
  constructor(
    readonly code: RpcErrorCode,
    message: string,
  ) {
    super(message);
  }

  /** The error as it travels over the wire. */
  toPayload(): RpcErrorPayload {
    return { code: this.code, message: this.message };
  }
}

/** A parameter's expected type. Integers carry inclusive bounds; strings an optional pattern. */
type Field =
  | { type: 'int'; min: number; max?: number; optional?: boolean }
  | { type: 'string'; pattern?: RegExp; what?: string; optional?: boolean }
  | { type: 'bool'; optional?: boolean }
  | { type: 'number'; min: number; max: number; minExclusive?: boolean; optional?: boolean }
  | { type: 'enum'; values: readonly string[]; optional?: boolean }
  | { type: 'strings'; optional?: boolean; maxItems?: number }
  | { type: 'numbers'; min: number; max: number; optional?: boolean; maxItems?: number };

type Schema = Record<string, Field>;

const SHA256 = /^[0-9a-f]{64}$/;
const JOB_ID = /^[\w-]{1,64}$/;

/**
 * The parameters of every host method. `satisfies` makes the compiler insist that each method of the contract
 * has a schema covering every field of its params (a field added to the contract without validation here does
 * not compile).
 */
const SCHEMAS = {
  'host.info': {},
  'runs.list': {},
  'runs.get': { id: { type: 'int', min: 1 }, heatmaps: { type: 'bool', optional: true } },
  'runs.heatmap': { id: { type: 'int', min: 1 }, input: { type: 'int', min: 0 }, layer: { type: 'int', min: 0 } },
  'runs.delete': { id: { type: 'int', min: 1 } },
  'runs.kernels': { id: { type: 'int', min: 1 }, input: { type: 'int', min: 0 }, layer: { type: 'int', min: 0 } },
  'wgsl.get': { hash: { type: 'string', pattern: SHA256, what: 'a sha256 in lowercase hex (64 characters)' } },
  'models.default': {},
  'profile.status': {},
  'profile.start': {
    modelPath: { type: 'string', optional: true },
    useDefault: { type: 'bool', optional: true },
    inputs: { type: 'strings', maxItems: 1000 },
    imageSize: { type: 'int', min: 32, max: 4096, optional: true },
    families: { type: 'strings', optional: true, maxItems: 64 },
    imagePreset: { type: 'enum', values: ['paddle-det', 'paddle-rec', 'paddle-cls', 'imagenet', 'rgb01'], optional: true },
    repeat: { type: 'int', min: 1, max: 1000, optional: true },
    warmup: { type: 'int', min: 0, max: 100, optional: true },
    warmupMs: { type: 'int', min: 0, max: 60000, optional: true },
    maxLayers: { type: 'int', min: 1, optional: true },
    policy: { type: 'enum', values: ['measure', 'tiledb'], optional: true },
    audit: { type: 'bool', optional: true },
    zeroThreshold: { type: 'number', min: 0, max: Number.MAX_VALUE, optional: true },
    zeroKeep: { type: 'number', min: 0, max: 1, minExclusive: true, optional: true },
    dtype: { type: 'enum', values: ['f32', 'f16'], optional: true },
    memoryBudget: { type: 'int', min: 1, max: Number.MAX_SAFE_INTEGER, optional: true },
  },
  'profile.cancel': { jobId: { type: 'string', pattern: JOB_ID, what: 'a job id' } },
  'tiledb.list': {},
  'tiledb.get': { id: { type: 'int', min: 1 } },
  'tiledb.tune': {
    quick: { type: 'bool', optional: true },
    sizes: { type: 'strings', optional: true, maxItems: 64 },
    sparsities: { type: 'numbers', min: 0, max: 1, optional: true, maxItems: 64 },
    configs: { type: 'strings', optional: true, maxItems: 256 },
  },
  'tiledb.cancel': { jobId: { type: 'string', pattern: JOB_ID, what: 'a job id' } },
  'tiledb.status': {},
  'runs.layers': { id: { type: 'int', min: 1 }, since: { type: 'int', min: 0 } },
  'runs.trace': { id: { type: 'int', min: 1 } },
  'models.graph': { runId: { type: 'int', min: 1, optional: true }, modelPath: { type: 'string', optional: true } },
} satisfies { [M in HostMethod]: { [K in keyof HostMethods[M]['params']]-?: Field } };

/** Every method the host serves, in a stable order (the preload's allow-list, the host's dispatch table). */
export const HOST_METHODS = Object.keys(SCHEMAS) as HostMethod[];

/** Whether `name` is a method of the contract. */
export function isHostMethod(name: unknown): name is HostMethod {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(SCHEMAS, name);
}

/**
 * Checks a request's method and parameters against the contract and returns the parameters typed. `undefined`
 * and `null` params count as `{}` (methods without parameters may be called without any).
 * @throws RpcError `unknown-method` for a name outside the contract; `invalid-params` naming the first wrong,
 *   missing or unknown parameter.
 */
export function validateRequest<M extends HostMethod>(method: M, params: unknown): HostMethods[M]['params'];
export function validateRequest(method: string, params: unknown): unknown;
export function validateRequest(method: string, params: unknown): unknown {
  if (!isHostMethod(method)) {
    throw new RpcError('unknown-method', `unknown method '${String(method).slice(0, 80)}' (known: ${HOST_METHODS.join(', ')})`);
  }
  const schema: Schema = SCHEMAS[method];
  const p = params ?? {};
  if (typeof p !== 'object' || Array.isArray(p)) throw invalid(method, `params must be an object, got ${describe(p)}`);
  const obj = p as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!Object.prototype.hasOwnProperty.call(schema, key)) {
      const known = Object.keys(schema);
      throw invalid(method, `unknown parameter '${key.slice(0, 40)}'${known.length ? ` (known: ${known.join(', ')})` : ' (it takes none)'}`);
    }
  }
  for (const [key, field] of Object.entries(schema)) {
    const v = obj[key];
    if (v === undefined) {
      if (!field.optional) throw invalid(method, `missing parameter '${key}'`);
      continue;
    }
    const problem = checkField(field, v);
    if (problem) throw invalid(method, `'${key}' ${problem}`);
  }
  return obj;
}

function checkField(field: Field, v: unknown): string | null {
  switch (field.type) {
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) return `must be an integer, got ${describe(v)}`;
      if (v < field.min) return `must be ≥ ${field.min}, got ${v}`;
      if (field.max !== undefined && v > field.max) return `must be ≤ ${field.max}, got ${v}`;
      return null;
    case 'string':
      if (typeof v !== 'string' || v.length === 0) return `must be a non-empty string, got ${describe(v)}`;
      if (v.length > 4096) return 'is too long (over 4096 characters)';
      if (field.pattern && !field.pattern.test(v)) return `must be ${field.what ?? `like ${field.pattern}`}, got '${v.slice(0, 80)}'`;
      return null;
    case 'bool':
      return typeof v === 'boolean' ? null : `must be true or false, got ${describe(v)}`;
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v)) return `must be a finite number, got ${describe(v)}`;
      if (field.minExclusive ? v <= field.min : v < field.min) return `must be ${field.minExclusive ? '>' : '≥'} ${field.min}, got ${v}`;
      if (v > field.max) return `must be ≤ ${field.max}, got ${v}`;
      return null;
    case 'enum':
      return typeof v === 'string' && field.values.includes(v) ? null : `must be one of ${field.values.join(', ')}, got ${describe(v)}`;
    case 'strings':
      if (!Array.isArray(v)) return `must be an array of strings, got ${describe(v)}`;
      if (field.maxItems !== undefined && v.length > field.maxItems) return `has ${v.length} items (at most ${field.maxItems})`;
      for (const [i, s] of v.entries()) {
        if (typeof s !== 'string' || s.length === 0 || s.length > 4096) return `[${i}] must be a non-empty string, got ${describe(s)}`;
      }
      return null;
    case 'numbers':
      if (!Array.isArray(v)) return `must be an array of numbers, got ${describe(v)}`;
      if (field.maxItems !== undefined && v.length > field.maxItems) return `has ${v.length} items (at most ${field.maxItems})`;
      for (const [i, x] of v.entries()) {
        if (typeof x !== 'number' || !Number.isFinite(x)) return `[${i}] must be a number, got ${describe(x)}`;
        if (x < field.min || x > field.max) return `[${i}] must be between ${field.min} and ${field.max}, got ${x}`;
      }
      return null;
  }
}

function invalid(method: string, what: string): RpcError {
  return new RpcError('invalid-params', `${method}: ${what}`);
}

/** A short description of a value for error messages (never the whole value). */
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `'${v.slice(0, 40)}'`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return typeof v === 'object' ? 'an object' : typeof v;
}

/**
 * Parses one wire message into a request, or says why it is not one.
 * @returns The request, or an error payload with the id when one could be read (so the client can match it).
 */
export function parseRequest(raw: unknown): { ok: true; id: number; method: string; params: unknown } | { ok: false; id: number | null; error: RpcErrorPayload } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, id: null, error: { code: 'invalid-params', message: `a request must be an object {id, method, params}, got ${describe(raw)}` } };
  }
  const r = raw as Record<string, unknown>;
  const id = typeof r.id === 'number' && Number.isSafeInteger(r.id) ? r.id : null;
  if (id === null) return { ok: false, id: null, error: { code: 'invalid-params', message: `a request needs an integer 'id', got ${describe(r.id)}` } };
  if (typeof r.method !== 'string') return { ok: false, id, error: { code: 'unknown-method', message: `a request needs a 'method' string, got ${describe(r.method)}` } };
  return { ok: true, id, method: r.method, params: r.params };
}
