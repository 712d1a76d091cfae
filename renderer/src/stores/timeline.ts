/** The Timeline view's data: the open run as a Chrome trace (`runs.trace`), and the rows and bars drawn from it. */
import { defineStore } from 'pinia';
import { markRaw, ref, shallowRef } from 'vue';
import type { ChromeTrace } from '../../../core/protocol.ts';
import { timelineOf } from '../lib/timeline.ts';
import { useHostStore } from './host.ts';

/** The trace of the open run (see the module comment). */
export const useTimelineStore = defineStore('timeline', () => {
  const host = useHostStore();
  const runId = ref<number | null>(null);
  /** How many layers the trace was made from (a run being written gets a new trace when it grew). */
  const layerCount = ref(0);
  const trace = shallowRef<ChromeTrace | null>(null);
  const model = shallowRef<ReturnType<typeof timelineOf> | null>(null);
  const loading = ref(false);
  const error = ref('');

  /** Loads the trace of run `id` (again when the run has more layers than the trace shows). */
  async function load(id: number, layers: number): Promise<void> {
    if (runId.value === id && layerCount.value === layers && (trace.value || loading.value)) return;
    runId.value = id;
    layerCount.value = layers;
    loading.value = true;
    error.value = '';
    try {
      const t = await host.call('runs.trace', { id });
      if (runId.value !== id) return;
      trace.value = markRaw(t);
      model.value = markRaw(timelineOf(t));
    } catch (e) {
      if (runId.value === id) error.value = (e as Error).message;
    } finally {
      if (runId.value === id) loading.value = false;
    }
  }

  return { runId, trace, model, loading, error, load };
});
