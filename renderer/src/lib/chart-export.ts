/**
 * Exported chart pictures say what they show (issue 13): a title, the run, the layer and input when there is one, and
 * the adapter, drawn above the chart. The text is pure (tested); png-caption.ts draws it with the page's canvas.
 */
import type { AdapterDescriptor, RunSummary } from '../../../core/protocol.ts';
import { adapterName, basename } from './format.ts';

/** The caption of an exported chart: a bold title and one line of context. */
export interface Caption {
  title: string;
  context: string;
}

/** The caption of a chart of run `run` (and a layer of it, on an input, when the chart is about one). */
export function chartCaption(
  title: string,
  run: Pick<RunSummary, 'id' | 'model' | 'inputs'> & { adapter: AdapterDescriptor },
  layer?: { name: string; index: number; input: number },
): Caption {
  const parts = [`run ${run.id} · ${basename(run.model.path)}`];
  if (layer) {
    const inp = run.inputs[layer.input];
    parts.push(`layer ${layer.index} ${layer.name} · input ${layer.input}${inp ? ` (${basename(inp.path)})` : ''}`);
  }
  parts.push(adapterName(run.adapter));
  return { title, context: parts.join(' · ') };
}
