/**
 * The run open in the Layers view: its report, the input and layer being looked at, the kernels of that layer
 * and their WGSL (fetched on demand, cached by hash). A run still being written is re-read as layers arrive.
 */
import { defineStore } from 'pinia';
import { computed, markRaw, ref, shallowRef } from 'vue';
import type { KernelLabel, LayerResult, RunReport } from '../../../core/protocol.ts';
import { useHostStore } from './host.ts';

/** Shortest interval between re-reads of a run that is still being written, ms. */
export const RELOAD_MS = 1500;

/** The run open in the Layers view (see the module comment). */
export const useRunStore = defineStore('run', () => {
  const host = useHostStore();
  const report = shallowRef<RunReport | null>(null);
  const loading = ref(false);
  const error = ref('');
  /** Input (0-based) whose layers are listed. */
  const input = ref(0);
  /** Position of the current layer in `layers` (not the layer's model index). */
  const position = ref(0);
  const kernels = shallowRef<Record<string, KernelLabel[]>>({});
  const wgsl = shallowRef(new Map<string, string>());
  let reloadTimer: ReturnType<typeof setTimeout> | null = null;

  /** The current input's layers, in model order. */
  const layers = computed<LayerResult[]>(() => (report.value ? report.value.layers.filter((l) => l.input === input.value) : []));
  const current = computed<LayerResult | null>(() => layers.value[position.value] ?? null);
  /** The current layer on every input of the run (how its sparsity varies across inputs). */
  const acrossInputs = computed<LayerResult[]>(() => {
    const c = current.value;
    if (!c || !report.value) return [];
    return report.value.layers.filter((l) => l.index === c.index && l.name === c.name).sort((a, b) => a.input - b.input);
  });

  /** Opens run `id` at its first layer (or keeps the position when re-reading the same run). */
  async function open(id: number, keepPosition = false): Promise<void> {
    loading.value = true;
    error.value = '';
    try {
      const r = await host.call('runs.get', { id });
      const same = report.value?.run.id === id;
      report.value = markRaw(r);
      if (!(same && keepPosition)) {
        input.value = 0;
        position.value = 0;
      } else if (position.value >= layers.value.length) {
        position.value = Math.max(0, layers.value.length - 1);
      }
      await loadKernels();
    } catch (e) {
      error.value = (e as Error).message;
      if (!keepPosition) report.value = null;
    } finally {
      loading.value = false;
    }
  }

  /** Moves to a layer position (clamped) and loads its kernels. */
  async function select(pos: number): Promise<void> {
    const clamped = Math.min(Math.max(0, pos), Math.max(0, layers.value.length - 1));
    if (clamped === position.value) return;
    position.value = clamped;
    await loadKernels();
  }

  async function selectInput(i: number): Promise<void> {
    const index = current.value?.index;
    input.value = i;
    // Stay on the same model layer when the other input has it.
    const pos = index === undefined ? 0 : layers.value.findIndex((l) => l.index === index);
    position.value = Math.max(0, pos);
    await loadKernels();
  }

  async function loadKernels(): Promise<void> {
    const r = report.value;
    const c = current.value;
    if (!r || !c || c.skipped) {
      kernels.value = {};
      return;
    }
    try {
      kernels.value = await host.call('runs.kernels', { id: r.run.id, input: c.input, layer: c.index });
    } catch (e) {
      kernels.value = {};
      host.notify('error', `Cannot list the kernels of ${c.name}: ${(e as Error).message}`);
    }
  }

  /** The WGSL of a kernel (cached). @throws HostError when the host does not have it. */
  async function loadWgsl(hash: string): Promise<string> {
    const hit = wgsl.value.get(hash);
    if (hit !== undefined) return hit;
    const { wgsl: text } = await host.call('wgsl.get', { hash });
    const next = new Map(wgsl.value);
    next.set(hash, text);
    wgsl.value = next;
    return text;
  }

  host.subscribe((e) => {
    const r = report.value;
    if (!r || e.type !== 'runs.changed' || e.runId !== r.run.id) return;
    if (e.change === 'deleted') {
      report.value = null;
      error.value = `run ${e.runId} was deleted`;
      return;
    }
    if (reloadTimer) return;
    // A run being written is re-read at most every RELOAD_MS: each read is the whole report.
    reloadTimer = setTimeout(() => {
      reloadTimer = null;
      void open(r.run.id, true);
    }, RELOAD_MS);
  });

  return { report, loading, error, input, position, layers, current, acrossInputs, kernels, open, select, selectInput, loadWgsl };
});
