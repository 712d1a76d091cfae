/**
 * The stored runs: the list (refreshed as the host reports runs being created, written and deleted), deletion,
 * and the selection of two runs to compare.
 */
import { defineStore } from 'pinia';
import { ref, shallowRef } from 'vue';
import type { RunListItem } from '../../../core/protocol.ts';
import { useHostStore } from './host.ts';

/** Refreshes triggered by events are coalesced over this long, ms (a job reports a layer every few ms on a GPU). */
export const REFRESH_DEBOUNCE_MS = 250;

/**
 * The selection after toggling `id`: at most two runs, the oldest pick dropped when a third is added (so
 * "select two to compare" never needs an unselect first).
 */
export function toggleSelection(selected: readonly number[], id: number): number[] {
  if (selected.includes(id)) return selected.filter((x) => x !== id);
  return [...selected, id].slice(-2);
}

/** The stored runs (see the module comment). */
export const useRunsStore = defineStore('runs', () => {
  const host = useHostStore();
  const list = shallowRef<RunListItem[]>([]);
  const loading = ref(false);
  const loaded = ref(false);
  const selected = ref<number[]>([]);
  let timer: ReturnType<typeof setTimeout> | null = null;

  async function refresh(): Promise<void> {
    loading.value = true;
    try {
      list.value = await host.call('runs.list', {});
      loaded.value = true;
      const ids = new Set(list.value.map((r) => r.id));
      selected.value = selected.value.filter((id) => ids.has(id));
    } catch (e) {
      host.notify('error', `Cannot list runs: ${(e as Error).message}`);
    } finally {
      loading.value = false;
    }
  }

  function scheduleRefresh(): void {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      void refresh();
    }, REFRESH_DEBOUNCE_MS);
  }

  /** Deletes a run; returns whether it was deleted. */
  async function remove(id: number): Promise<boolean> {
    try {
      const { deleted } = await host.call('runs.delete', { id });
      if (deleted) host.notify('info', `Run ${id} deleted`);
      await refresh();
      return deleted;
    } catch (e) {
      host.notify('error', `Cannot delete run ${id}: ${(e as Error).message}`);
      return false;
    }
  }

  function toggle(id: number): void {
    selected.value = toggleSelection(selected.value, id);
  }

  host.subscribe((e) => {
    if (e.type === 'runs.changed') scheduleRefresh();
    if (e.type === 'host.status' && e.status.state === 'ready') scheduleRefresh();
  });

  return { list, loading, loaded, selected, refresh, remove, toggle };
});
