/**
 * The Graph view's layout and colours (issue 13). The layout is dagre's (`@dagrejs/dagre`, a maintained layered
 * graph layout): top to bottom, one box per operator sized to its label, edges as polylines. Colours: a profiled
 * layer by its sparsity (viridis, as the heat maps) or by the gain of its chosen variant over the baseline (a
 * diverging scale, grey at 1×); other operators neutral. Pure (tested in test/renderer).
 */
import { Graph, layout } from '@dagrejs/dagre';
import type { ModelGraph, ModelGraphNode } from '../../../core/protocol.ts';
import { occupancyColor } from './heatmap.ts';
import type { ModelRow } from './model.ts';

/** A laid-out node: its centre, size and the text it shows. */
export interface PlacedNode {
  node: ModelGraphNode;
  x: number;
  y: number;
  width: number;
  height: number;
  /** First line (operator type), second line (layer number, when a layer). */
  label: string;
  sublabel: string;
}

/** A laid-out edge: the polyline's points. */
export interface PlacedEdge {
  from: string;
  to: string;
  value: string;
  points: { x: number; y: number }[];
}

/** Height of a node box, px (two lines of 11 px text). */
export const NODE_HEIGHT = 34;
/** Approximate advance of one character at the graph's font size, px (the box is sized before it is drawn). */
const CHAR_PX = 6.6;

/** Lays `graph` out top to bottom; sizes in px. */
export function layoutModelGraph(graph: ModelGraph): { nodes: PlacedNode[]; edges: PlacedEdge[]; width: number; height: number } {
  const g = new Graph({ multigraph: true });
  g.setGraph({ rankdir: 'TB', nodesep: 18, ranksep: 26, edgesep: 8, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  const text = new Map<string, { label: string; sublabel: string }>();
  for (const n of graph.nodes) {
    const label = n.kind === 'op' ? n.op : `${n.kind} ${n.name}`;
    const full = n.layer !== undefined ? `layer ${n.layer}${n.unsupported ? ' · not profiled' : ''}` : n.kind === 'op' ? '' : (n.attrs.type ?? '');
    // A long type (symbolic dims) would make a box as wide as the screen: cut it, the tooltip has it whole.
    const sublabel = full.length > 44 ? `${full.slice(0, 43)}…` : full;
    text.set(n.id, { label, sublabel });
    const width = Math.max(64, Math.ceil(Math.max(label.length, sublabel.length) * CHAR_PX) + 16);
    g.setNode(n.id, { width, height: NODE_HEIGHT });
  }
  graph.edges.forEach((e, i) => g.setEdge(e.from, e.to, {}, `e${i}`));
  layout(g);
  const nodes: PlacedNode[] = graph.nodes.map((n) => {
    const p = g.node(n.id) as { x: number; y: number; width: number; height: number };
    return { node: n, x: p.x, y: p.y, width: p.width, height: p.height, ...text.get(n.id)! };
  });
  const edges: PlacedEdge[] = graph.edges.map((e, i) => {
    const p = g.edge({ v: e.from, w: e.to, name: `e${i}` }) as { points?: { x: number; y: number }[] };
    return { ...e, points: p.points ?? [] };
  });
  const { width = 0, height = 0 } = g.graph() as { width?: number; height?: number };
  return { nodes, edges, width, height };
}

/** What nodes are coloured by. */
export type GraphColourMode = 'sparsity' | 'gain';

/** Fill of an operator that is not a profiled layer, and of a skipped one. */
export const NEUTRAL_FILL = '#eef0f3';
export const SKIPPED_FILL = '#ffffff';

/** Gain colours: slower than the baseline (red) … 1× (grey) … faster (green), on a log scale clamped at ½× and 2×. */
export function gainColour(gain: number): string {
  if (!Number.isFinite(gain)) return NEUTRAL_FILL;
  const t = Math.max(-1, Math.min(1, Math.log2(gain))); // −1 at ½×, +1 at 2×
  const grey: [number, number, number] = [214, 218, 224];
  const end: [number, number, number] = t >= 0 ? [26, 128, 72] : [196, 51, 43];
  const f = Math.abs(t);
  const mix = grey.map((g, i) => Math.round(g + (end[i]! - g) * f));
  return `rgb(${mix.join(',')})`;
}

/** The fill of a node, given the layer rows of the input shown (by layer index). */
export function nodeFill(n: ModelGraphNode, rows: ReadonlyMap<number, ModelRow>, mode: GraphColourMode): string {
  if (n.layer === undefined) return NEUTRAL_FILL;
  const r = rows.get(n.layer);
  if (!r || r.skipped) return SKIPPED_FILL;
  if (mode === 'sparsity') {
    const [red, green, blue] = occupancyColor(r.sparsity ?? Number.NaN);
    return `rgb(${red},${green},${blue})`;
  }
  return gainColour(r.gain ?? Number.NaN);
}

/** Black or white text, whichever reads better on `fill` (`#rrggbb` or `rgb(r,g,b)`), by WCAG relative luminance. */
export function textOn(fill: string): '#111111' | '#ffffff' {
  const m = fill.startsWith('#') ? [1, 3, 5].map((i) => parseInt(fill.slice(i, i + 2), 16)) : (fill.match(/\d+/g) ?? ['0', '0', '0']).slice(0, 3).map(Number);
  const lin = m.map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  const l = 0.2126 * lin[0]! + 0.7152 * lin[1]! + 0.0722 * lin[2]!;
  // Contrast with black (l + 0.05) / 0.05 against with white 1.05 / (l + 0.05): black wins above l ≈ 0.179.
  return l > 0.179 ? '#111111' : '#ffffff';
}

/** The hover text of a node: name, operator, attributes, constant inputs, and the layer's figures when profiled. */
export function nodeDetails(n: ModelGraphNode, row: ModelRow | undefined): string[] {
  const lines = [`${n.name} (${n.op})`];
  for (const [k, v] of Object.entries(n.attrs)) lines.push(`${k}: ${v}`);
  for (const c of n.constants) lines.push(`${c.name}: [${c.dims.join(', ')}]`);
  if (n.unsupported) lines.push(`not profiled: ${n.unsupported}`);
  if (row && !row.skipped) {
    lines.push(`layer ${row.index}: M×N×K ${row.m}×${row.n}×${row.k}, sparsity ${row.sparsity === null ? '—' : `${(row.sparsity * 100).toFixed(1)} %`}`);
    if (row.chosenMs !== null) lines.push(`chosen ${row.chosen}: ${row.chosenMs.toPrecision(3)} ms${row.gain !== null ? `, ${row.gain.toFixed(2)}× the baseline` : ''}`);
  }
  return lines;
}
