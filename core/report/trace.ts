/**
 * A run as a Chrome-trace / Perfetto timeline (issue 13): what `pit trace` writes and the app's Timeline view draws.
 *
 * A run stores medians and samples, not wall-clock timestamps, so the timeline is laid out from them:
 * - per input, a segment: first the reference model's own time (onnxruntime on the CPU, the whole model), then the
 *   layers in model order;
 * - each layer gets one slot, as wide as its longest lane. Lane "chosen" (the model as PIT would run it): the chosen
 *   variant's layout preparation, detection and kernel (phases of its median sample), then the readback of its output.
 *   One lane per kernel family: every variant of that family measured on the layer, end to end, each with its phases;
 *   a variant that failed is an instant event saying why;
 * - a skipped layer is an instant event with its reason.
 * So within a slot every lane starts together and the lanes compare like the tracks of Nsight Systems; the chosen
 * lane's busy time summed over layers is the run's chosen total. Times in the trace are microseconds.
 */
import type { ChromeTrace, LayerResult, RunReport, TraceEvent, VariantResult } from '../protocol.ts';

/** Process ids of the trace. */
export const TRACE_PID = { model: 1, variants: 2 } as const;

/** Thread ids of the model process: the inputs, the reference model, the chosen path. */
export const MODEL_TID = { inputs: 1, reference: 2, chosen: 3 } as const;

/** ms → µs, rounded to the nanosecond (JSON stays short; the viewers take fractional µs). */
const us = (ms: number): number => Math.round(ms * 1e6) / 1e3;

/** A variant's phases of its median sample: layout, detection, kernel, ms (0 where absent). */
export function variantPhases(v: VariantResult): { layout: number; detect: number; kernel: number; total: number } {
  const layout = finite(v.layoutMs);
  const detect = finite(v.detectMs);
  const kernel = finite(v.ms);
  return { layout, detect, kernel, total: v.totalMs !== undefined && Number.isFinite(v.totalMs) ? v.totalMs : layout + detect + kernel };
}

const finite = (x: number | undefined): number => (x !== undefined && Number.isFinite(x) ? x : 0);

/** The family of a variant: stored, else the first word of its name (runs before families were data). */
export function familyOfVariant(v: VariantResult): string {
  return v.family ?? v.name.split(' ')[0]!;
}

/**
 * The trace of a run.
 * @param report the run (`getRunReport`)
 * @returns Chrome trace JSON: `X` events for spans, `i` for skipped layers and failed variants, `M` for names.
 */
export function runTrace(report: RunReport): ChromeTrace {
  const { run } = report;
  const families = [...run.families];
  for (const l of report.layers) for (const v of l.variants) if (!families.includes(familyOfVariant(v))) families.push(familyOfVariant(v));
  const familyTid = (f: string) => 1 + families.indexOf(f);
  const events: TraceEvent[] = [
    meta('process_name', TRACE_PID.model, 0, { name: 'Model' }),
    meta('process_sort_index', TRACE_PID.model, 0, { sort_index: 0 }),
    meta('thread_name', TRACE_PID.model, MODEL_TID.inputs, { name: 'inputs' }),
    meta('thread_name', TRACE_PID.model, MODEL_TID.reference, { name: 'reference model (onnxruntime, CPU)' }),
    meta('thread_name', TRACE_PID.model, MODEL_TID.chosen, { name: 'chosen variants (GPU)' }),
    meta('process_name', TRACE_PID.variants, 0, { name: 'Measured variants (GPU, medians)' }),
    meta('process_sort_index', TRACE_PID.variants, 0, { sort_index: 1 }),
  ];
  for (const [tid, id] of [MODEL_TID.inputs, MODEL_TID.reference, MODEL_TID.chosen].entries()) {
    events.push(meta('thread_sort_index', TRACE_PID.model, id, { sort_index: tid }));
  }
  for (const f of families) {
    events.push(meta('thread_name', TRACE_PID.variants, familyTid(f), { name: f }));
    events.push(meta('thread_sort_index', TRACE_PID.variants, familyTid(f), { sort_index: familyTid(f) }));
  }

  let t = 0; // ms from the trace's origin
  let chosenMs = 0;
  let referenceMs = 0;
  for (const [inputIndex, input] of run.inputs.entries()) {
    const layers = report.layers.filter((l) => l.input === inputIndex).sort((a, b) => a.index - b.index);
    const start = t;
    const ref = input.referenceMs;
    if (ref !== undefined && Number.isFinite(ref)) {
      events.push(span(`reference run: ${basename(input.path)}`, 'reference', TRACE_PID.model, MODEL_TID.reference, t, ref, { input: inputIndex, shape: JSON.stringify(input.shape) }));
      t += ref;
      referenceMs += ref;
    } else {
      events.push(instant('reference time not recorded', 'reference', TRACE_PID.model, MODEL_TID.reference, t, { input: inputIndex }));
    }
    for (const l of layers) {
      const w = layerSlot(l, events, t, familyTid);
      chosenMs += w.chosen;
      t += w.slot;
    }
    events.push(span(`input ${inputIndex}: ${basename(input.path)}`, 'input', TRACE_PID.model, MODEL_TID.inputs, start, t - start, { layers: layers.length, shape: JSON.stringify(input.shape) }));
  }
  return {
    traceEvents: events,
    displayTimeUnit: 'ms',
    metadata: {
      run: run.id,
      model: run.model.path,
      modelSha256: run.model.sha256,
      adapter: [run.adapter.vendor, run.adapter.architecture, run.adapter.device, run.adapter.description].filter(Boolean).join(' / '),
      backend: run.adapter.backend,
      timing: run.adapter.timestampQuery ? 'GPU timestamp queries' : 'CPU clock',
      statistic: 'median of the samples per variant; phases of the median sample',
      repeat: run.repeat,
      layout:
        'Synthetic time axis: per input the reference run, then one slot per layer as wide as its longest lane; ' +
        'spans are stored medians laid end to end, not wall-clock timestamps.',
      chosenMs: Math.round(chosenMs * 1e6) / 1e6,
      referenceMs: Math.round(referenceMs * 1e6) / 1e6,
    },
  };
}

/** Adds one layer's events from `t0` (ms); returns the slot's width and the chosen lane's busy time, ms. */
function layerSlot(l: LayerResult, events: TraceEvent[], t0: number, familyTid: (f: string) => number): { slot: number; chosen: number } {
  const shape = `${l.m}×${l.n}×${l.k}`;
  if (l.skipped) {
    events.push(instant(`${l.name} skipped`, 'skipped', TRACE_PID.model, MODEL_TID.chosen, t0, { layer: l.index, op: l.op, reason: l.skipped }));
    return { slot: 0, chosen: 0 };
  }
  let slot = 0;
  const chosen = l.variants.find((v) => v.name === l.chosen);
  let chosenBusy = 0;
  if (chosen && chosen.ok) {
    const p = variantPhases(chosen);
    const readback = finite(l.readbackMs);
    chosenBusy = p.total;
    const dur = p.total + readback;
    events.push(
      span(l.name, 'layer', TRACE_PID.model, MODEL_TID.chosen, t0, dur, {
        layer: l.index,
        op: l.op,
        shape,
        chosen: l.chosen,
        sparsity: round(l.sparsity),
        medianMs: round(p.total),
        readbackMs: l.readbackMs === undefined ? null : round(l.readbackMs),
        ...spread(chosen),
      }),
    );
    phases(events, chosen, TRACE_PID.model, MODEL_TID.chosen, t0);
    if (l.readbackMs !== undefined) events.push(span('readback', 'readback', TRACE_PID.model, MODEL_TID.chosen, t0 + p.total, readback, { bytes: 4 * l.m * l.n }));
    slot = dur;
  }
  const lanes = new Map<string, number>();
  for (const v of l.variants) {
    const f = familyOfVariant(v);
    const at = t0 + (lanes.get(f) ?? 0);
    if (!v.ok || !Number.isFinite(v.ms)) {
      events.push(instant(`${v.name} failed`, 'failed', TRACE_PID.variants, familyTid(f), at, { layer: l.index, error: v.error ?? 'output differs from the reference' }));
      continue;
    }
    const p = variantPhases(v);
    events.push(
      span(v.name, 'variant', TRACE_PID.variants, familyTid(f), at, p.total, {
        layer: l.index,
        layerName: l.name,
        shape,
        chosen: v.name === l.chosen,
        baseline: v.name === (l.baseline ?? 'dense'),
        medianMs: round(p.total),
        ...spread(v),
        ...(v.suspect ? { suspect: v.suspect } : {}),
      }),
    );
    phases(events, v, TRACE_PID.variants, familyTid(f), at);
    lanes.set(f, (lanes.get(f) ?? 0) + p.total);
  }
  for (const w of lanes.values()) slot = Math.max(slot, w);
  return { slot, chosen: chosenBusy };
}

/** The layout, detection and kernel spans of a variant's median sample, from `t0` (ms). */
function phases(events: TraceEvent[], v: VariantResult, pid: number, tid: number, t0: number): void {
  const p = variantPhases(v);
  let t = t0;
  for (const [name, ms] of [['layout', p.layout], ['detection', p.detect], ['kernel', p.kernel]] as const) {
    if (ms > 0) events.push(span(name, name === 'detection' ? 'detect' : name, pid, tid, t, ms, { variant: v.name, ms: round(ms) }));
    t += ms;
  }
}

/** A variant's spread as trace args (absent statistics are left out). */
function spread(v: VariantResult): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  if (v.q1Ms !== undefined) out.q1Ms = round(v.q1Ms);
  if (v.q3Ms !== undefined) out.q3Ms = round(v.q3Ms);
  if (v.minMs !== undefined) out.minMs = round(v.minMs);
  if (v.maxMs !== undefined) out.maxMs = round(v.maxMs);
  if (v.repeats !== undefined) out.repeats = v.repeats;
  if (v.method !== undefined) out.method = v.method;
  return out;
}

const round = (x: number): number => (Number.isFinite(x) ? Math.round(x * 1e6) / 1e6 : Number.NaN);

function span(name: string, cat: string, pid: number, tid: number, startMs: number, durMs: number, args: TraceEvent['args']): TraceEvent {
  return { name, cat, ph: 'X', ts: us(startMs), dur: us(durMs), pid, tid, args: clean(args) };
}

function instant(name: string, cat: string, pid: number, tid: number, atMs: number, args: TraceEvent['args']): TraceEvent {
  return { name, cat, ph: 'i', s: 't', ts: us(atMs), pid, tid, args: clean(args) };
}

function meta(name: string, pid: number, tid: number, args: TraceEvent['args']): TraceEvent {
  return { name, ph: 'M', pid, tid, args };
}

/** JSON has no NaN: non-finite numbers become null. */
function clean(args: TraceEvent['args']): TraceEvent['args'] {
  if (!args) return args;
  const out: NonNullable<TraceEvent['args']> = {};
  for (const [k, v] of Object.entries(args)) out[k] = typeof v === 'number' && !Number.isFinite(v) ? null : v;
  return out;
}

function basename(p: string): string {
  return p.split(/[\\/]/).pop() || p;
}
