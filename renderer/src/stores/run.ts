/**
 * The run open in the Model, Layers, Graph and Timeline views: its report (without heat maps: they are most of the
 * bytes, and one layer's is fetched when it is shown), the input and layer being looked at, the layer list's sort
 * and filter, the layer's kernels and their WGSL (fetched once per hash, concurrent requests shared).
 *
 * A run still being written is followed incrementally: on each `runs.changed` event for it, `runs.layers` with the
 * cursor of the last read returns only the layers recorded since (issue 13), instead of the whole run again.
 */
import { defineStore } from 'pinia';
import { computed, markRaw, ref, shallowRef } from 'vue';
import type { Heatmap, KernelLabel, LayerResult, RunReport } from '../../../core/protocol.ts';
import { filterModelRows, modelRows, pitChosen, sortModelRows, type ModelRow, type ModelSortKey, type RowFilter } from '../lib/model.ts';
import { useHostStore } from './host.ts';

/** Events for a run being written are coalesced over this long before asking for what changed, ms. */
export const FOLLOW_DEBOUNCE_MS = 250;

/** Heat maps kept in memory (the current layer, its neighbours, and the recent past). */
const HEATMAP_CACHE = 64;

/** The run open in the run views (see the module comment). */
export const useRunStore = defineStore('run', () => {
  const host = useHostStore();
  const report = shallowRef<RunReport | null>(null);
  const loading = ref(false);
  const error = ref('');
  /** Input (0-based) whose layers are listed. */
  const input = ref(0);
  /** Position of the current layer in `layers` (the list as sorted and filtered, not the layer's model index). */
  const position = ref(0);
  /** How the layer list is sorted and filtered. */
  const sortKey = ref<ModelSortKey>('index');
  const sortDir = ref<'asc' | 'desc'>('asc');
  const filter = ref<RowFilter>({ text: '', status: 'all' });
  const kernels = shallowRef<Record<string, KernelLabel[]>>({});
  const wgsl = new Map<string, Promise<string>>();
  const heatmaps = new Map<string, Promise<Heatmap | null>>();
  /** The current layer's heat map (null while loading or when it has none). */
  const heatmap = shallowRef<Heatmap | null>(null);
  const heatmapLoading = ref(false);
  /** Cursor of the last `runs.layers` read (its layers are in `report`). */
  let cursor = 0;
  let followTimer: ReturnType<typeof setTimeout> | null = null;
  let following: Promise<void> | null = null;

  /** Every layer of the input in model order, as table rows (times, spread, shares). */
  const rows = computed<ModelRow[]>(() => (report.value ? modelRows(report.value, input.value) : []));
  const byKey = computed(() => new Map((report.value?.layers ?? []).map((l) => [`${l.input}:${l.index}`, l])));
  /** The list as shown: filtered, then sorted. */
  const listRows = computed<ModelRow[]>(() => sortModelRows(filterModelRows(rows.value, filter.value, pitChosen), sortKey.value, sortDir.value));
  /** The listed layers, in list order. */
  const layers = computed<LayerResult[]>(() => listRows.value.map((r) => byKey.value.get(r.key)!));
  const current = computed<LayerResult | null>(() => layers.value[position.value] ?? null);
  /** The current layer on every input of the run (how its sparsity varies across inputs). */
  const acrossInputs = computed<LayerResult[]>(() => {
    const c = current.value;
    if (!c || !report.value) return [];
    return report.value.layers.filter((l) => l.index === c.index && l.name === c.name).sort((a, b) => a.input - b.input);
  });

  /** Opens run `id` at its first layer. */
  async function open(id: number): Promise<void> {
    loading.value = true;
    error.value = '';
    try {
      const d = await host.call('runs.layers', { id, since: 0 });
      report.value = markRaw({ run: d.run, layers: d.layers, totals: d.totals });
      cursor = d.cursor;
      heatmaps.clear();
      input.value = 0;
      position.value = 0;
      filter.value = { text: '', status: 'all' };
      sortKey.value = 'index';
      sortDir.value = 'asc';
      await onLayerChanged();
    } catch (e) {
      error.value = (e as Error).message;
      report.value = null;
    } finally {
      loading.value = false;
    }
  }

  /** Reads what was recorded since the last read and appends it (a run being written). */
  async function follow(): Promise<void> {
    const r = report.value;
    if (!r) return;
    const id = r.run.id;
    try {
      const d = await host.call('runs.layers', { id, since: cursor });
      if (report.value?.run.id !== id) return;
      const before = current.value;
      report.value = markRaw({ run: d.run, layers: d.layers.length ? [...report.value.layers, ...d.layers] : report.value.layers, totals: d.totals });
      cursor = d.cursor;
      // Keep looking at the same layer when the list grew around it.
      if (before) {
        const pos = layers.value.findIndex((l) => l.input === before.input && l.index === before.index);
        if (pos >= 0) position.value = pos;
      }
      if (!before && layers.value.length) await onLayerChanged();
    } catch (e) {
      error.value = (e as Error).message;
    }
  }

  /** Moves to a layer position (clamped) and loads its heat map and kernels. */
  async function select(pos: number): Promise<void> {
    const clamped = Math.min(Math.max(0, pos), Math.max(0, layers.value.length - 1));
    if (clamped === position.value && current.value && heatmap.value) return;
    position.value = clamped;
    await onLayerChanged();
  }

  /** Shows model layer `index` of input `inputIndex` (default: the current input), clearing a filter that hides it. */
  async function selectLayer(index: number, inputIndex = input.value): Promise<void> {
    input.value = inputIndex;
    let pos = layers.value.findIndex((l) => l.index === index);
    if (pos < 0) {
      filter.value = { text: '', status: 'all' };
      pos = layers.value.findIndex((l) => l.index === index);
    }
    position.value = Math.max(0, pos);
    await onLayerChanged();
  }

  async function selectInput(i: number): Promise<void> {
    const index = current.value?.index;
    input.value = i;
    // Stay on the same model layer when the other input has it.
    const pos = index === undefined ? 0 : layers.value.findIndex((l) => l.index === index);
    position.value = Math.max(0, pos);
    await onLayerChanged();
  }

  /** Sorts the list by `key` (the same key again flips the direction), staying on the current layer. */
  function sortBy(key: ModelSortKey, dir?: 'asc' | 'desc'): void {
    const c = current.value;
    if (dir) sortDir.value = dir;
    else if (sortKey.value === key) sortDir.value = sortDir.value === 'asc' ? 'desc' : 'asc';
    else sortDir.value = key === 'index' || key === 'name' ? 'asc' : 'desc';
    sortKey.value = key;
    keep(c);
  }

  function setFilter(f: Partial<RowFilter>): void {
    const c = current.value;
    filter.value = { ...filter.value, ...f };
    keep(c);
  }

  /** Puts the position back on `layer` when it is still listed, else on the first layer. */
  function keep(layer: LayerResult | null): void {
    const pos = layer ? layers.value.findIndex((l) => l.input === layer.input && l.index === layer.index) : -1;
    position.value = Math.max(0, pos);
    if (pos < 0) void onLayerChanged();
  }

  async function onLayerChanged(): Promise<void> {
    await Promise.all([loadHeatmap(), loadKernels()]);
  }

  /** The heat map of one layer, fetched once (concurrent requests share it). */
  function fetchHeatmap(l: LayerResult): Promise<Heatmap | null> {
    const r = report.value!;
    const key = `${r.run.id}:${l.input}:${l.index}`;
    let p = heatmaps.get(key);
    if (!p) {
      p = l.skipped ? Promise.resolve(null) : host.call('runs.heatmap', { id: r.run.id, input: l.input, layer: l.index }).then((h) => (h ? markRaw(h) : null));
      p.catch(() => heatmaps.delete(key));
      heatmaps.set(key, p);
      while (heatmaps.size > HEATMAP_CACHE) heatmaps.delete(heatmaps.keys().next().value!);
    }
    return p;
  }

  async function loadHeatmap(): Promise<void> {
    const c = current.value;
    if (!c || !report.value) {
      heatmap.value = null;
      return;
    }
    heatmapLoading.value = true;
    try {
      const h = await fetchHeatmap(c);
      if (current.value === c) heatmap.value = h;
    } catch (e) {
      if (current.value === c) heatmap.value = null;
      host.notify('error', `Cannot load the heat map of ${c.name}: ${(e as Error).message}`);
    } finally {
      if (current.value === c) heatmapLoading.value = false;
    }
    // The neighbours, so that stepping shows their map at once.
    for (const d of [1, -1]) {
      const n = layers.value[position.value + d];
      if (n && !n.skipped) void fetchHeatmap(n).catch(() => {});
    }
  }

  async function loadKernels(): Promise<void> {
    const r = report.value;
    const c = current.value;
    if (!r || !c || c.skipped) {
      kernels.value = {};
      return;
    }
    try {
      const k = await host.call('runs.kernels', { id: r.run.id, input: c.input, layer: c.index });
      if (current.value === c) kernels.value = k;
    } catch (e) {
      kernels.value = {};
      host.notify('error', `Cannot list the kernels of ${c.name}: ${(e as Error).message}`);
    }
  }

  /** The WGSL of a kernel, fetched once per hash (a second request while the first is in flight shares it). */
  function loadWgsl(hash: string): Promise<string> {
    let p = wgsl.get(hash);
    if (!p) {
      p = host.call('wgsl.get', { hash }).then((r) => r.wgsl);
      p.catch(() => wgsl.delete(hash));
      wgsl.set(hash, p);
    }
    return p;
  }

  host.subscribe((e) => {
    const r = report.value;
    if (!r || e.type !== 'runs.changed' || e.runId !== r.run.id) return;
    if (e.change === 'deleted') {
      report.value = null;
      error.value = `run ${e.runId} was deleted`;
      return;
    }
    if (followTimer) return;
    followTimer = setTimeout(() => {
      followTimer = null;
      // One read at a time: a slow read is followed by one more, never by a pile of them.
      following = (following ?? Promise.resolve()).then(follow);
    }, FOLLOW_DEBOUNCE_MS);
  });

  return {
    report,
    loading,
    error,
    input,
    position,
    sortKey,
    sortDir,
    filter,
    rows,
    listRows,
    layers,
    current,
    acrossInputs,
    kernels,
    heatmap,
    heatmapLoading,
    open,
    follow,
    select,
    selectLayer,
    selectInput,
    sortBy,
    setFilter,
    loadWgsl,
  };
});
