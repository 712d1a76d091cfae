/**
 * Errors of model import, reference execution and input loading. Messages are one line and say what went wrong and
 * where (a file path, a model input name, a node name), so the CLI and the UI can show them as they are:
 * `String(err)` reads e.g. `ModelError: model file not found: /tmp/x.onnx`.
 */

/** Longest message of a ModelError or InputError, characters (names quoted from a broken file can be any length). */
export const ERROR_MESSAGE_MAX = 500;

/**
 * A message made safe to print as one line: control characters (a newline in a node name of a damaged model)
 * become `\xNN` escapes, and it is cut to ERROR_MESSAGE_MAX characters with `…`.
 */
export function safeLine(message: string): string {
  const escaped = message.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return escaped.length > ERROR_MESSAGE_MAX ? `${escaped.slice(0, ERROR_MESSAGE_MAX - 1)}…` : escaped;
}

/** Something is wrong with the model: missing or unreadable file, not ONNX, empty graph, an operator we cannot lower, or the reference runtime failing inside the graph. */
export class ModelError extends Error {
  override readonly name = 'ModelError';
  /** Model file the error is about, when known. */
  readonly path?: string;
  /** Graph node the error is about, when known. */
  readonly node?: string;

  /** @param message one line; control characters are escaped and it is cut to ERROR_MESSAGE_MAX (safeLine). */
  constructor(message: string, options?: { path?: string; node?: string; cause?: unknown }) {
    super(safeLine(message), options?.cause === undefined ? undefined : { cause: options.cause });
    this.path = options?.path;
    this.node = options?.node;
  }
}

/** Something is wrong with an input: unreadable or corrupt file, unsupported format, or a tensor whose shape/type does not fit the model input. */
export class InputError extends Error {
  override readonly name = 'InputError';
  /** Input file the error is about, when known. */
  readonly path?: string;
  /** Name of the model input the error is about, when known. */
  readonly input?: string;

  /** @param message one line; control characters are escaped and it is cut to ERROR_MESSAGE_MAX (safeLine). */
  constructor(message: string, options?: { path?: string; input?: string; cause?: unknown }) {
    super(safeLine(message), options?.cause === undefined ? undefined : { cause: options.cause });
    this.path = options?.path;
    this.input = options?.input;
  }
}

/** The message of any thrown value, on one line (multi-line native messages are joined with ` | `). */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .join(' | ');
}

/** Longest message kept from a native library's error (onnxruntime's run to ~900 characters), characters. */
export const NATIVE_MESSAGE_MAX = 240;

/**
 * A native library's error message made fit for one line of a table: onnxruntime prefixes its messages with the C++
 * source location and function signature (`/onnxruntime_src/…/model_load_utils.h:46 void onnxruntime::…(…) `),
 * which is dropped; then whole sentences are kept while they fit in `max` characters (the first one always, cut
 * with `…` if it alone is longer). The full text stays available as the error's `cause`.
 */
export function conciseNativeMessage(message: string, max: number = NATIVE_MESSAGE_MAX): string {
  let text = oneLine(message);
  // `path/file.ext:LINE signature(args) text`: drop through the signature's closing parenthesis (one nesting level).
  const located = /^\S+\.(?:h|hpp|cc|cpp|c):\d+\s+[^(]*\((?:[^()]|\([^()]*\))*\)\s*/.exec(text);
  if (located && located[0].length < text.length) text = text.slice(located[0].length);
  if (text.length <= max) return text;
  const sentences = text.match(/[^.!?]+(?:[.!?]+(?=\s|$)|$)\s*/g) ?? [text];
  let out = '';
  for (const s of sentences) {
    if ((out + s).trimEnd().length > max) break;
    out += s;
  }
  out = out.trimEnd();
  return out || `${text.slice(0, max - 1).trimEnd()}…`;
}
