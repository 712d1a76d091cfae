/**
 * The Timeline view's model of a Chrome trace (the host's `runs.trace`, core/report/trace.ts): one row per track
 * (process, thread) and nesting depth, the spans on each row, and the instants. Pure (tested in test/renderer).
 * Times in ms (the trace's µs divided by 1000).
 */
import type { ChromeTrace, TraceEvent } from '../../../core/protocol.ts';

/** A row of the timeline: one nesting level of one thread. */
export interface TimelineRow {
  /** Position from the top. */
  row: number;
  /** `Model › chosen variants (GPU)`, with the level when nested (`· 2`). */
  label: string;
  pid: number;
  tid: number;
  depth: number;
}

/** A span (complete event) placed on a row. */
export interface TimelineBar {
  row: number;
  name: string;
  cat: string;
  startMs: number;
  endMs: number;
  args: Record<string, string | number | boolean | null>;
}

/** An instant (skipped layer, failed variant) on its thread's first row. */
export interface TimelineMark {
  row: number;
  name: string;
  cat: string;
  atMs: number;
  args: Record<string, string | number | boolean | null>;
}

/**
 * Rows, bars and marks of a trace. Threads are ordered by their process's and their own sort index (then ids);
 * spans that nest (a layer and its phases) go one row down per level, computed by containment on each thread.
 */
export function timelineOf(trace: ChromeTrace): { rows: TimelineRow[]; bars: TimelineBar[]; marks: TimelineMark[]; endMs: number } {
  const procName = new Map<number, string>();
  const procSort = new Map<number, number>();
  const threadName = new Map<string, string>();
  const threadSort = new Map<string, number>();
  const key = (pid: number, tid: number) => `${pid}:${tid}`;
  for (const e of trace.traceEvents) {
    if (e.ph !== 'M') continue;
    const a = e.args ?? {};
    if (e.name === 'process_name') procName.set(e.pid, String(a.name));
    else if (e.name === 'process_sort_index') procSort.set(e.pid, Number(a.sort_index));
    else if (e.name === 'thread_name') threadName.set(key(e.pid, e.tid), String(a.name));
    else if (e.name === 'thread_sort_index') threadSort.set(key(e.pid, e.tid), Number(a.sort_index));
  }
  // Depth of each span on its thread: sorted by start then longest first, a stack of open spans.
  const spans = trace.traceEvents.filter((e): e is TraceEvent & { ts: number; dur: number } => e.ph === 'X' && e.ts !== undefined && e.dur !== undefined);
  const byThread = new Map<string, (TraceEvent & { ts: number; dur: number })[]>();
  for (const e of spans) {
    const k = key(e.pid, e.tid);
    const list = byThread.get(k) ?? [];
    list.push(e);
    byThread.set(k, list);
  }
  const depthOf = new Map<TraceEvent, number>();
  const maxDepth = new Map<string, number>();
  for (const [k, list] of byThread) {
    list.sort((a, b) => a.ts - b.ts || b.dur - a.dur);
    const open: number[] = []; // end times of the open spans
    for (const e of list) {
      // Tolerance: start and duration are each rounded to the nanosecond in the trace, so abutting spans may overlap by 1 ns.
      while (open.length && open[open.length - 1]! <= e.ts + 0.005) open.pop();
      depthOf.set(e, open.length);
      maxDepth.set(k, Math.max(maxDepth.get(k) ?? 0, open.length));
      open.push(e.ts + e.dur);
    }
  }
  const threads = new Set<string>([...threadName.keys(), ...byThread.keys(), ...trace.traceEvents.filter((e) => e.ph === 'i').map((e) => key(e.pid, e.tid))]);
  const ordered = [...threads]
    .map((k) => {
      const [pid, tid] = k.split(':').map(Number) as [number, number];
      return { k, pid, tid };
    })
    .sort((a, b) => (procSort.get(a.pid) ?? a.pid) - (procSort.get(b.pid) ?? b.pid) || a.pid - b.pid || (threadSort.get(a.k) ?? a.tid) - (threadSort.get(b.k) ?? b.tid) || a.tid - b.tid);
  const rows: TimelineRow[] = [];
  const firstRow = new Map<string, number>();
  for (const t of ordered) {
    firstRow.set(t.k, rows.length);
    const label = `${procName.get(t.pid) ?? `process ${t.pid}`} › ${threadName.get(t.k) ?? `thread ${t.tid}`}`;
    for (let d = 0; d <= (maxDepth.get(t.k) ?? 0); d++) rows.push({ row: rows.length, label: d ? `${label} · ${d + 1}` : label, pid: t.pid, tid: t.tid, depth: d });
  }
  let endMs = 0;
  const bars: TimelineBar[] = spans.map((e) => {
    const startMs = e.ts / 1000;
    const end = (e.ts + e.dur) / 1000;
    endMs = Math.max(endMs, end);
    return { row: firstRow.get(key(e.pid, e.tid))! + depthOf.get(e)!, name: e.name, cat: e.cat ?? '', startMs, endMs: end, args: e.args ?? {} };
  });
  const marks: TimelineMark[] = trace.traceEvents
    .filter((e) => e.ph === 'i' && e.ts !== undefined)
    .map((e) => ({ row: firstRow.get(key(e.pid, e.tid))!, name: e.name, cat: e.cat ?? '', atMs: e.ts! / 1000, args: e.args ?? {} }));
  return { rows, bars, marks, endMs };
}

/** The bars of the spans that cover `[fromMs, toMs]` at least partly (what a zoomed chart draws). */
export function barsIn(bars: readonly TimelineBar[], fromMs: number, toMs: number): TimelineBar[] {
  return bars.filter((b) => b.endMs >= fromMs && b.startMs <= toMs);
}
