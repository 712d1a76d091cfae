/**
 * Fuzzing the model import path: about a thousand mutations of a small valid model (byte flips, truncations,
 * inserted bytes, and protobuf field mutations: bad dims and types, missing or extra inputs, broken attributes,
 * external or short tensor data, odd opsets, cycles…) through what `pit profile` and the host run before any GPU
 * work — importOnnx, findSparseOps and onnxruntime's session. Every case must import or fail with a ModelError of
 * one line; none may crash the process or hang. The loop runs in a child process (fuzz-child.ts) with a time
 * budget, so a native crash or a hang is reported with the case that caused it. Seeded: failures reproduce.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';

const CHILD = join(import.meta.dirname, 'fuzz-child.ts');
const BUDGET_MS = 15_000;
const HANG_MS = 60_000;

interface Outcome {
  i: number;
  kind: string;
  ms: number;
  stage: 'import' | 'reference';
  ok: boolean;
  name?: string;
  error?: string;
  typed?: boolean;
}

async function fuzz(seed: number, maxCases: number): Promise<{ outcomes: Outcome[]; code: number | null; signal: string | null; last: string; done: boolean; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, String(seed), String(BUDGET_MS), String(maxCases)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const outcomes: Outcome[] = [];
  let last = '';
  let done = false;
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith('case ')) last = line;
    else if (line === 'done') done = true;
    else outcomes.push(JSON.parse(line) as Outcome);
  });
  const hang = setTimeout(() => child.kill('SIGKILL'), HANG_MS);
  const [code, signal] = await new Promise<[number | null, string | null]>((r) => child.on('close', (c, s) => r([c, s])));
  clearTimeout(hang);
  return { outcomes, code, signal, last, done, stderr };
}

describe('mutated ONNX models through the import path', () => {
  it('every case imports or fails with a one-line ModelError; no crash, no hang', async () => {
    const r = await fuzz(20231, 1200);
    // A crash or a hang names the case being run (its kind; the seed reproduces it).
    expect(r.signal, `killed (${r.signal}) during ${r.last}; stderr: ${r.stderr.slice(-500)}`).toBeNull();
    expect(r.code, `exited ${r.code} during ${r.last}; stderr: ${r.stderr.slice(-500)}`).toBe(0);
    expect(r.done).toBe(true);

    const { outcomes } = r;
    expect(outcomes.length).toBeGreaterThanOrEqual(300);
    const errors = outcomes.filter((o) => !o.ok);
    for (const o of errors) {
      expect(o.typed, `case ${o.i} (${o.kind}) threw ${o.name}: ${o.error}`).toBe(true);
      expect(o.name).toBe('ModelError');
      expect(o.error, `case ${o.i} (${o.kind})`).not.toMatch(/[\r\n]/);
      expect(o.error!.length, `case ${o.i} (${o.kind}): ${o.error}`).toBeLessThan(600);
    }
    // Not vacuous: the mutations reach every stage, both ways.
    const kinds = new Set(outcomes.map((o) => o.kind.split(':')[0]));
    expect([...kinds].sort()).toEqual(['byte-flip', 'field', 'insert-bytes', 'truncate']);
    const importFailed = errors.filter((o) => o.stage === 'import').length;
    const referenceFailed = errors.filter((o) => o.stage === 'reference').length;
    const passed = outcomes.filter((o) => o.ok).length;
    expect(importFailed).toBeGreaterThan(outcomes.length / 10);
    expect(referenceFailed).toBeGreaterThan(outcomes.length / 10);
    expect(passed).toBeGreaterThan(outcomes.length / 20);
    const slowest = Math.max(...outcomes.map((o) => o.ms));
    expect(slowest).toBeLessThan(5000);
    console.log(
      `onnx fuzz: ${outcomes.length} cases — ${passed} imported and accepted by the reference runtime, ` +
        `${importFailed} refused at import, ${referenceFailed} by the reference runtime (all one-line ModelErrors); ` +
        `0 crashes, 0 hangs; slowest case ${slowest} ms`,
    );
  });
});
