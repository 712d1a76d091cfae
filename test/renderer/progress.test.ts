/** The New-profile job state folded from host events. */
import { describe, expect, it } from 'vitest';
import type { HostEvent } from '../../core/protocol.ts';
import { applyEvent, fractionDone, jobFromInfo, MAX_NOTES, startingJob } from '../../renderer/src/lib/progress.ts';
import { layer, skipped } from './fixtures.ts';

const stage = (jobId: string, message: string): HostEvent => ({ type: 'progress', jobId, event: { kind: 'stage', stage: 'import', message } });
const layerEv = (jobId: string, done: number, total: number, l = layer(done - 1, 2, 1)): HostEvent => ({
  type: 'progress',
  jobId,
  event: { kind: 'layer', runId: 7, done, total, layer: l, etaMs: (total - done) * 100 },
});

describe('applyEvent', () => {
  it('adopts the job id of the first event while it is unknown, and ignores other jobs after', () => {
    let s = applyEvent(startingJob(), stage('j1', 'importing'));
    expect(s).toMatchObject({ jobId: 'j1', message: 'importing' });
    const before = s;
    s = applyEvent(s, stage('j2', 'other'));
    expect(s).toBe(before);
  });

  it('adds a row per layer with progress and ETA, without mutating the old state', () => {
    const s0 = applyEvent(startingJob(), stage('j1', 'x'));
    const s1 = applyEvent(s0, layerEv('j1', 1, 3));
    const s2 = applyEvent(s1, layerEv('j1', 2, 3, skipped(1)));
    expect(s0.rows).toEqual([]);
    expect(s1.rows).toHaveLength(1);
    expect(s2).toMatchObject({ runId: 7, done: 2, total: 3, etaMs: 100 });
    expect(s2.rows[0]).toMatchObject({ name: 'conv0', shape: '64×16×32', chosen: 'pit-k', sparsity: 0.5, skipped: '', failed: [] });
    expect(s2.rows[0]!.speedup).toBeCloseTo(2 / 1.1);
    expect(s2.rows[1]).toMatchObject({ skipped: 'grouped conv (group=16)' });
    expect(fractionDone(s2)).toBeCloseTo(2 / 3);
  });

  it('ends the job: complete, cancelled, or failed with the error line', () => {
    const s = applyEvent(startingJob(), stage('j1', 'x'));
    const failed = applyEvent(s, { type: 'job.end', end: { jobId: 'j1', runId: null, status: 'failed', error: 'ModelError: bad' } });
    expect(failed).toMatchObject({ message: 'ModelError: bad', end: { status: 'failed' } });
    // Late events of an ended job change nothing.
    expect(applyEvent(failed, layerEv('j1', 1, 1))).toBe(failed);
    const other = applyEvent(s, { type: 'job.end', end: { jobId: 'j9', runId: 1, status: 'complete', error: '' } });
    expect(other).toBe(s);
  });

  it('keeps the job log lines (which policy, why no tile database) as notes', () => {
    const log = (message: string): HostEvent => ({ type: 'progress', jobId: 'j1', event: { kind: 'log', message } });
    let s = applyEvent(startingJob(), log('no tile database fits this adapter and these kernels: measuring every variant'));
    s = applyEvent(s, stage('j1', 'importing'));
    s = applyEvent(s, log('second'));
    expect(s.notes).toEqual(['no tile database fits this adapter and these kernels: measuring every variant', 'second']);
    for (let i = 0; i < 30; i++) s = applyEvent(s, log(`line ${i}`));
    expect(s.notes).toHaveLength(MAX_NOTES);
    expect(s.notes.at(-1)).toBe('line 29');
  });

  it('resumes a job already running from profile.status', () => {
    const ev = layerEv('j1', 2, 4);
    if (ev.type !== 'progress') throw new Error('a progress event');
    const s = jobFromInfo({ jobId: 'j1', request: { inputs: [] }, startedAt: '', runId: 7, last: ev.event });
    expect(s).toMatchObject({ jobId: 'j1', runId: 7, done: 2, total: 4 });
  });
});
