/**
 * The Graph view's data: the operator graph of the open run's model (`models.graph`), laid out once per graph with
 * dagre, and what the nodes are coloured by.
 */
import { defineStore } from 'pinia';
import { markRaw, ref, shallowRef } from 'vue';
import type { ModelGraph } from '../../../core/protocol.ts';
import { layoutModelGraph, type GraphColourMode } from '../lib/graph-layout.ts';
import { useHostStore } from './host.ts';

/** The graph of the open run's model (see the module comment). */
export const useGraphStore = defineStore('graph', () => {
  const host = useHostStore();
  /** The run whose model is shown. */
  const runId = ref<number | null>(null);
  const graph = shallowRef<ModelGraph | null>(null);
  const layout = shallowRef<ReturnType<typeof layoutModelGraph> | null>(null);
  const loading = ref(false);
  const error = ref('');
  const colourBy = ref<GraphColourMode>('sparsity');
  /** How long the layout took, ms (shown, so a slow layout on a big model is not a mystery). */
  const layoutMs = ref(0);

  /** Loads and lays out the graph of run `id`'s model (nothing to do when it is the one shown). */
  async function load(id: number): Promise<void> {
    if (runId.value === id && (graph.value || loading.value)) return;
    runId.value = id;
    loading.value = true;
    error.value = '';
    graph.value = null;
    layout.value = null;
    try {
      const g = await host.call('models.graph', { runId: id });
      if (runId.value !== id) return;
      const t0 = performance.now();
      layout.value = markRaw(layoutModelGraph(g));
      layoutMs.value = performance.now() - t0;
      graph.value = markRaw(g);
    } catch (e) {
      if (runId.value === id) error.value = (e as Error).message;
    } finally {
      if (runId.value === id) loading.value = false;
    }
  }

  return { runId, graph, layout, loading, error, colourBy, layoutMs, load };
});
