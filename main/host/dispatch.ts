/**
 * One wire message in, one response out: shared by the IPC transport (Electron main ⇄ host) and the WebSocket
 * transport (web mode), so both answer malformed requests and failures the same way.
 */
import type { RpcErrorPayload, RpcResponse } from '../../core/protocol.ts';
import { parseRequest, RpcError } from './rpc.ts';
import { errorLine } from './service.ts';

/** Anything that serves host methods (the HostService, or a fake in tests). */
export interface HostHandler {
  call(method: string, params: unknown): Promise<unknown>;
}

/**
 * Turns a thrown value into the error a client sees. RpcErrors keep their code; a missing run becomes
 * `not-found`; anything else is `failed` with its one-line message (`DatabaseError: …`).
 */
export function toErrorPayload(e: unknown): RpcErrorPayload {
  if (e instanceof RpcError) return e.toPayload();
  if (e instanceof Error && e.name === 'RunNotFoundError') return { code: 'not-found', message: e.message };
  return { code: 'failed', message: errorLine(e) };
}

/**
 * Serves one raw message (already JSON-parsed).
 * @returns The response to send back; an envelope without a readable id is answered with id -1.
 */
export async function handleMessage(handler: HostHandler, raw: unknown): Promise<RpcResponse> {
  const req = parseRequest(raw);
  if (!req.ok) return { id: req.id ?? -1, error: req.error };
  try {
    const result = await handler.call(req.method, req.params);
    return { id: req.id, result: result ?? null };
  } catch (e) {
    return { id: req.id, error: toErrorPayload(e) };
  }
}
