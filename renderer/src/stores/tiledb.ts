/**
 * The tile databases (issue 3 in the app): the host's overview (which database profiles use on this adapter, or why
 * none fits), the database shown with its points, the chart's size and metric, and a tune with progress, ETA and
 * cancel. Points measured by a tune in flight are added to the database shown as they arrive.
 */
import { defineStore } from 'pinia';
import { computed, markRaw, reactive, ref, shallowRef } from 'vue';
import type { TileDbDetail, TileDbOverview, TunePlanInfo } from '../../../core/protocol.ts';
import { applyTuneEvent, defaultDatabase, defaultSize, seriesAt, sizesOf, startingTune, summarise, tuneFromInfo, tuneRequest, type Metric, type TuneState } from '../lib/tiledb.ts';
import { useHostStore } from './host.ts';

/** The tune form: which plan, and the sizes and sparsities of it to measure. */
export interface TuneForm {
  quick: boolean;
  sizes: string[];
  sparsities: number[];
}

/** The tile databases and their tune (see the module comment). */
export const useTileDbStore = defineStore('tiledb', () => {
  const host = useHostStore();
  const overview = shallowRef<TileDbOverview | null>(null);
  const loading = ref(false);
  const error = ref('');
  const selectedId = ref<number | null>(null);
  const detail = shallowRef<TileDbDetail | null>(null);
  /** The problem size charted (`MxNxK`). */
  const size = ref<string | null>(null);
  const metric = ref<Metric>('total');
  const logScale = ref(false);
  const form = reactive<TuneForm>({ quick: true, sizes: [], sparsities: [] });
  const tune = shallowRef<TuneState | null>(null);
  /** Why the tune could not start, or how it failed. */
  const tuneError = ref('');
  const starting = ref(false);
  const tuning = computed(() => starting.value || (tune.value !== null && tune.value.end === null));

  const plan = computed<TunePlanInfo | null>(() => overview.value?.plans.find((p) => p.name === (form.quick ? 'quick' : 'full')) ?? null);
  const sizes = computed(() => (detail.value ? sizesOf(detail.value.points) : []));
  const series = computed(() => (detail.value && size.value ? seriesAt(detail.value.points, size.value, metric.value) : []));
  const summary = computed(() => summarise(series.value));
  /** The fitted cost model's error per configuration. */
  const fits = computed(() => new Map((detail.value?.fits ?? []).map((f) => [f.config, f])));

  /** Ticks every size and sparsity of the chosen plan. */
  function resetForm(): void {
    const p = plan.value;
    form.sizes = p ? [...p.sizes] : [];
    form.sparsities = p ? [...p.sparsities] : [];
  }

  function setQuick(q: boolean): void {
    form.quick = q;
    resetForm();
  }

  /** Reads the overview; `withDetail` also (re)loads the database shown (the New-profile form only needs the overview). */
  async function refresh(withDetail = true): Promise<void> {
    loading.value = true;
    error.value = '';
    try {
      const first = overview.value === null;
      overview.value = markRaw(await host.call('tiledb.list', {}));
      if (first) resetForm();
      const ids = overview.value.databases.map((d) => d.id);
      if (selectedId.value === null || !ids.includes(selectedId.value)) selectedId.value = defaultDatabase(overview.value);
      if (withDetail) await loadDetail();
    } catch (e) {
      error.value = (e as Error).message;
    } finally {
      loading.value = false;
    }
  }

  async function loadDetail(): Promise<void> {
    const id = selectedId.value;
    if (id === null) {
      detail.value = null;
      return;
    }
    try {
      const d = await host.call('tiledb.get', { id });
      if (selectedId.value !== id) return;
      detail.value = markRaw(d);
      if (!size.value || !sizesOf(d.points).includes(size.value)) size.value = defaultSize(d.points);
    } catch (e) {
      error.value = (e as Error).message;
    }
  }

  async function select(id: number): Promise<void> {
    selectedId.value = id;
    detail.value = null;
    await loadDetail();
  }

  /** A tune in flight started elsewhere (another window, before a reload) is shown as ours. */
  async function loadStatus(): Promise<void> {
    try {
      const { job } = await host.call('tiledb.status', {});
      if (job && (!tune.value || tune.value.end)) tune.value = tuneFromInfo(job);
    } catch {
      // tiledb.status is informative only.
    }
  }

  async function startTune(): Promise<void> {
    tuneError.value = '';
    const p = plan.value;
    if (!p) return;
    let req;
    try {
      req = tuneRequest(p, form.sizes, form.sparsities);
    } catch (e) {
      tuneError.value = (e as Error).message;
      return;
    }
    starting.value = true;
    tune.value = startingTune();
    try {
      const { jobId } = await host.call('tiledb.tune', req);
      const t = tune.value;
      if (t && t.jobId === null) tune.value = { ...t, jobId };
    } catch (e) {
      tuneError.value = (e as Error).message;
      tune.value = null;
    } finally {
      starting.value = false;
    }
  }

  async function cancelTune(): Promise<void> {
    const id = tune.value?.jobId;
    if (!id) return;
    try {
      await host.call('tiledb.cancel', { jobId: id });
    } catch (e) {
      host.notify('error', `Cannot cancel the tune: ${(e as Error).message}`);
    }
  }

  host.subscribe((e) => {
    if (e.type !== 'tune.progress' && e.type !== 'tune.end') return;
    const t = tune.value;
    if (t) {
      const next = applyTuneEvent(t, e);
      if (next !== t) {
        tune.value = next;
        if (next.end && !t.end) {
          if (next.end.status === 'failed') tuneError.value = next.end.error;
          else host.notify('info', `Tune ${next.end.status}: ${next.end.measured} points measured`);
        }
      }
    }
    if (e.type === 'tune.end') {
      void refresh();
      return;
    }
    const ev = e.event;
    if (ev.kind === 'start' && selectedId.value !== ev.tileDbId) {
      // A new database (or another one): show the one being filled.
      selectedId.value = ev.tileDbId;
      void refresh();
    } else if (ev.kind === 'point' && detail.value && detail.value.db.id === ev.tileDbId) {
      const d = detail.value;
      // A database that had no points was listed "not usable: it has no points": with its first point that no longer
      // holds, so the overview and the key are read again (once) rather than contradicting the count beside them.
      if (d.db.points === 0) void refresh(false);
      const points = [...d.points, ev.point];
      // The fitted model is refreshed with the database when the tune ends.
      const db = { ...d.db, points: d.db.points + 1, failed: d.db.failed + (ev.point.ok ? 0 : 1) };
      if (db.mismatch === 'it has no points') {
        delete db.mismatch;
        db.usable = true;
      }
      detail.value = markRaw({ ...d, db, points });
      if (!size.value) size.value = defaultSize(points);
    }
  });

  return {
    overview,
    loading,
    error,
    selectedId,
    detail,
    size,
    metric,
    logScale,
    form,
    tune,
    tuneError,
    tuning,
    plan,
    sizes,
    series,
    summary,
    fits,
    refresh,
    loadDetail,
    select,
    loadStatus,
    setQuick,
    resetForm,
    startTune,
    cancelTune,
  };
});
