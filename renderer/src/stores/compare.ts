/** Two runs side by side: their reports, the matched rows and the table's sort order. */
import { defineStore } from 'pinia';
import { computed, markRaw, ref, shallowRef } from 'vue';
import type { RunReport } from '../../../core/protocol.ts';
import { compareRuns, sortRows, type CompareSortKey } from '../lib/compare.ts';
import { useHostStore } from './host.ts';

/** Two runs side by side (see the module comment). */
export const useCompareStore = defineStore('compare', () => {
  const host = useHostStore();
  const a = shallowRef<RunReport | null>(null);
  const b = shallowRef<RunReport | null>(null);
  const loading = ref(false);
  const sortKey = ref<CompareSortKey>('order');
  const sortDir = ref<'asc' | 'desc'>('asc');

  const result = computed(() => (a.value && b.value ? compareRuns(a.value, b.value) : null));
  const rows = computed(() => (result.value ? sortRows(result.value.rows, sortKey.value, sortDir.value) : []));

  /** Loads runs `idA` (baseline) and `idB`. */
  async function load(idA: number, idB: number): Promise<void> {
    loading.value = true;
    try {
      // Heat maps are not compared: leaving them out makes each read a fraction of the run.
      const [ra, rb] = await Promise.all([host.call('runs.get', { id: idA, heatmaps: false }), host.call('runs.get', { id: idB, heatmaps: false })]);
      a.value = markRaw(ra);
      b.value = markRaw(rb);
    } catch (e) {
      host.notify('error', `Cannot compare runs ${idA} and ${idB}: ${(e as Error).message}`);
    } finally {
      loading.value = false;
    }
  }

  /** Sorts by `key`; the same key again flips the direction. */
  function sortBy(key: CompareSortKey): void {
    if (sortKey.value === key) sortDir.value = sortDir.value === 'asc' ? 'desc' : 'asc';
    else {
      sortKey.value = key;
      sortDir.value = 'asc';
    }
  }

  function swap(): void {
    [a.value, b.value] = [b.value, a.value];
  }

  return { a, b, loading, result, rows, sortKey, sortDir, load, sortBy, swap };
});
