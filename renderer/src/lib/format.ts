/** Number and name formatting shared by the views. Times in ms; fractions 0–1 are shown as percentages. */
import type { AdapterDescriptor } from '../../../core/protocol.ts';

/** `1.23 ms` with 3 significant digits (µs below 0.01 ms); `—` for a missing or non-finite time. */
export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms !== 0 && Math.abs(ms) < 0.01) return `${(ms * 1000).toPrecision(3)} µs`;
  // toPrecision would write 1.50e+3 from 1000 ms on: whole milliseconds read better there.
  if (Math.abs(ms) >= 1000) return `${ms.toFixed(0)} ms`;
  return `${ms.toPrecision(3)} ms`;
}

/** A fraction 0–1 as a percentage, e.g. `0.4213` → `42.1 %`. */
export function fmtPct(fraction: number | null | undefined, digits = 1): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '—';
  return `${(fraction * 100).toFixed(digits)} %`;
}

/** A signed relative change (fraction) as a percentage, e.g. `-0.12` → `−12.0 %`. */
export function fmtDeltaPct(fraction: number | null | undefined): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '—';
  const s = (Math.abs(fraction) * 100).toFixed(1);
  return fraction > 0 ? `+${s} %` : fraction < 0 ? `−${s} %` : `${s} %`;
}

/** A signed time difference, e.g. `+0.123 ms`. */
export function fmtDeltaMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  return `${ms > 0 ? '+' : ms < 0 ? '−' : ''}${fmtMs(Math.abs(ms))}`;
}

/** A speed-up ratio, e.g. `2.45×`. */
export function fmtSpeedup(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  return `${x.toFixed(2)}×`;
}

/** Errors in scientific notation, e.g. `3.3e-6`. */
export function fmtErr(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  return x === 0 ? '0' : x.toExponential(1);
}

/** A remaining time, e.g. `42 s`, `3 min 05 s`. */
export function fmtEta(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s} s`;
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** The last component of a path (either separator). */
export function basename(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

/** One line naming an adapter: `vendor / architecture / device / description (backend)`. */
export function adapterName(a: AdapterDescriptor | null | undefined): string {
  if (!a) return 'no GPU';
  const parts = [a.vendor, a.architecture, a.device, a.description].filter((s) => s && s.length);
  const name = parts.length ? parts.join(' / ') : 'unknown adapter';
  return a.backend ? `${name} (${a.backend})` : name;
}

/** `M×N×K` of a layer. */
export function fmtShape(l: { m: number; n: number; k: number }): string {
  return `${l.m}×${l.n}×${l.k}`;
}

/** An ISO time as local `YYYY-MM-DD HH:MM`. */
export function fmtTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}
