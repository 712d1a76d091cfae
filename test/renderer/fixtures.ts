/** Small RunReports and layers for renderer tests. */
import type { HostEvent, HostMethod, HostMethods, LayerResult, RunReport, VariantResult } from '../../core/protocol.ts';
import { HostError, type Transport } from '../../renderer/src/transport/types.ts';

/** A variant with sensible defaults. */
export function variant(name: string, ms: number, detectMs = 0, extra: Partial<VariantResult> = {}): VariantResult {
  return { name, microTile: name === 'dense' ? null : '32x1', computeTile: '64x64x16', ms, detectMs, maxAbsErr: 1e-6, maxRelErr: 1e-7, ok: true, wgslHash: 'h', ...extra };
}

/** A profiled layer: dense at `denseMs`, pit-k at `pitMs` (+ detection), chosen the faster. */
export function layer(index: number, denseMs: number, pitMs: number, input = 0, extra: Partial<LayerResult> = {}): LayerResult {
  const variants = [variant('dense', denseMs), variant('pit-k', pitMs, 0.1)];
  return {
    index,
    name: `conv${index}`,
    op: 'Conv',
    m: 64,
    n: 16,
    k: 32,
    sparsity: 0.5,
    microTiles: [
      { shape: '1x1', density: 0.5 },
      { shape: '32x1', density: 0.8 },
    ],
    variants,
    chosen: pitMs + 0.1 < denseMs ? 'pit-k' : 'dense',
    input,
    ...extra,
  };
}

/** A layer the job did not profile (a grouped conv). */
export function skipped(index: number, input = 0): LayerResult {
  return { index, name: `conv${index}`, op: 'Conv', m: 0, n: 0, k: 0, sparsity: 0, microTiles: [], variants: [], chosen: 'dense', input, skipped: 'grouped conv (group=16)' };
}

/** A complete run of one input with `layers`. */
export function report(id: number, layers: LayerResult[]): RunReport {
  return {
    run: {
      id,
      complete: true,
      createdAt: '2025-01-01T00:00:00.000Z',
      model: { path: '/m/model.onnx', sha256: 'x' },
      adapter: { vendor: 'v', architecture: 'a', device: 'd', description: 'desc', backend: 'vulkan', timestampQuery: true },
      inputs: [{ path: '/i/a.jpg', kind: 'image', shape: [1, 3, 32, 32], preprocess: '', synthetic: false }],
      families: ['dense', 'pit-k'],
      repeat: 1,
      options: {},
      status: '',
    },
    layers,
    totals: { denseMs: 0, defaultDenseMs: 0, chosenMs: 0, detectMs: 0, layoutMs: 0, idealMs: 0 },
  };
}

/** A transport whose answers the test sets per method, and whose events the test pushes. */
export function fakeTransport(answers: Partial<{ [M in HostMethod]: (p: HostMethods[M]['params']) => HostMethods[M]['result'] }>) {
  const listeners = new Set<(e: HostEvent) => void>();
  const calls: { method: string; params: unknown }[] = [];
  const t: Transport = {
    kind: 'web',
    async call(method, params) {
      calls.push({ method, params });
      const f = answers[method] as ((p: unknown) => unknown) | undefined;
      if (!f) throw new HostError('unknown-method', `no answer for ${method}`);
      return f(params) as never;
    },
    onEvent(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  return { t, calls, emit: (e: HostEvent) => listeners.forEach((l) => l(e)) };
}
