/**
 * The New-profile form and the job it starts: defaults from the host, the request, streamed progress (per layer,
 * with the host's ETA), cancel, and the readable error when the job cannot start or fails.
 */
import { defineStore } from 'pinia';
import { computed, reactive, ref, shallowRef } from 'vue';
import type { ProfileDefaults, ProfileRequest } from '../../../core/protocol.ts';
import { applyEvent, jobFromInfo, startingJob, type JobState } from '../lib/progress.ts';
import { useHostStore } from './host.ts';

/** What the form holds. Inputs are the ticked bundled photos plus `inputsText`, one path per line. */
export interface ProfileForm {
  useDefault: boolean;
  modelPath: string;
  /** Bundled photos ticked (absolute paths from `models.default`). */
  bundledInputs: string[];
  inputsText: string;
  imageSize: number;
  /** Kernel families to measure (names); the baseline family always runs. */
  families: string[];
  /** Timed runs per median; null (or an emptied field) = the host's default for the policy (5 measuring, 1 per round with the tile database). */
  repeat: number | null;
  warmup: number;
  /** 0 = every layer. */
  maxLayers: number;
  /** '' = auto: the host's default (the tile database when one matches this adapter and kernels, else measure). */
  policy: '' | 'measure' | 'tiledb';
  /** With the tile-database policy: also measure every candidate, so the policy's regret is known. */
  audit: boolean;
}

/**
 * The request a form makes. With the default model, no inputs means its bundled photos.
 * @throws Error with a message for the form when something required is missing.
 */
export function formToRequest(f: ProfileForm): ProfileRequest {
  const typed = f.inputsText
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean);
  const inputs = [...new Set([...f.bundledInputs, ...typed])];
  if (!f.useDefault && !f.modelPath.trim()) throw new Error('Choose a model file (.onnx), or use the bundled default.');
  if (!f.useDefault && !inputs.length) throw new Error('A model needs at least one input file (.jpg, .png or .npy), one per line.');
  const req: ProfileRequest = {
    inputs,
    imageSize: f.imageSize,
    families: [...f.families],
    warmup: f.warmup,
  };
  // An emptied number field holds '' at run time: that, like null, leaves the choice to the host.
  if (typeof f.repeat === 'number' && Number.isInteger(f.repeat) && f.repeat >= 1) req.repeat = f.repeat;
  if (f.useDefault) req.useDefault = true;
  else req.modelPath = f.modelPath.trim();
  if (f.maxLayers > 0) req.maxLayers = f.maxLayers;
  if (f.policy) req.policy = f.policy;
  if (f.audit && f.policy !== 'measure') req.audit = true;
  return req;
}

/** The New-profile form and its job (see the module comment). */
export const useProfileStore = defineStore('profile', () => {
  const host = useHostStore();
  const defaults = ref<ProfileDefaults | null>(null);
  const form = reactive<ProfileForm>({
    useDefault: true,
    modelPath: '',
    bundledInputs: [],
    inputsText: '',
    imageSize: 960,
    families: [],
    repeat: null,
    warmup: 1,
    maxLayers: 0,
    policy: '',
    audit: false,
  });
  const job = shallowRef<JobState | null>(null);
  /** Why the job could not start or failed, as the host said it. */
  const error = ref('');
  const starting = ref(false);
  const running = computed(() => starting.value || (job.value !== null && job.value.end === null));

  async function loadDefaults(): Promise<void> {
    try {
      const d = await host.call('models.default', {});
      const first = defaults.value === null;
      defaults.value = d;
      if (first) {
        form.imageSize = d.imageSize;
        form.families = d.families.filter((x) => x.defaultOn).map((x) => x.name);
        form.warmup = d.warmup;
        form.bundledInputs = [...d.inputs];
      }
    } catch (e) {
      host.notify('error', `Cannot read the default model: ${(e as Error).message}`);
    }
    // A job started by another window (or before a reload) is shown as ours.
    try {
      const { job: info } = await host.call('profile.status', {});
      if (info && (!job.value || job.value.end)) job.value = jobFromInfo(info);
    } catch {
      // profile.status is informative only.
    }
  }

  async function start(): Promise<void> {
    error.value = '';
    let req: ProfileRequest;
    try {
      req = formToRequest(form);
    } catch (e) {
      error.value = (e as Error).message;
      return;
    }
    starting.value = true;
    job.value = startingJob();
    try {
      const { jobId } = await host.call('profile.start', req);
      const j = job.value;
      if (j && j.jobId === null) job.value = { ...j, jobId };
    } catch (e) {
      error.value = (e as Error).message;
      job.value = null;
    } finally {
      starting.value = false;
    }
  }

  async function cancel(): Promise<void> {
    const id = job.value?.jobId;
    if (!id) return;
    try {
      await host.call('profile.cancel', { jobId: id });
    } catch (e) {
      host.notify('error', `Cannot cancel: ${(e as Error).message}`);
    }
  }

  host.subscribe((e) => {
    if (e.type === 'host.status' && e.status.state === 'ready' && !defaults.value) void loadDefaults();
    const j = job.value;
    if (!j) return;
    const next = applyEvent(j, e);
    if (next === j) return;
    job.value = next;
    if (next.end && !j.end) {
      if (next.end.status === 'failed') error.value = next.end.error;
      else host.notify('info', next.end.status === 'complete' ? `Run ${next.end.runId} complete` : `Run ${next.end.runId ?? ''} cancelled`);
    }
  });

  return { defaults, form, job, error, starting, running, loadDefaults, start, cancel };
});
