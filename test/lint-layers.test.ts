/**
 * The layer map in eslint.config.js is a rule, so a test shows it bites: core/ may not import Electron or the
 * database, and renderer/ may import only types from core/protocol.ts.
 */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: import.meta.dirname + '/..' });

async function messages(code: string, filePath: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath });
  return r!.messages.map((m) => m.message);
}

describe('layer rule', () => {
  it('core/ imports no Electron and no database', async () => {
    expect(await messages("import { app } from 'electron';\nexport const a = app;\n", 'core/probe.ts')).toEqual([
      expect.stringMatching(/no Electron/),
    ]);
    expect(await messages("import D from 'better-sqlite3';\nexport const d = D;\n", 'core/probe.ts')).toEqual([expect.stringMatching(/database/)]);
    expect(await messages("import { x } from '../db/runs.ts';\nexport const y = x;\n", 'core/probe.ts')).toEqual([expect.stringMatching(/core\//)]);
  });

  it('renderer/ imports only types from core/protocol.ts', async () => {
    expect(await messages("import type { RunReport } from '../core/protocol.ts';\nexport type R = RunReport;\n", 'renderer/probe.ts')).toEqual([]);
    expect(await messages("import { profileModel } from '../core/profile/profile.ts';\nexport const p = profileModel;\n", 'renderer/probe.ts')).toEqual([
      expect.stringMatching(/only core\/protocol/),
    ]);
    expect(await messages("import fs from 'node:fs';\nexport const f = fs;\n", 'renderer/probe.ts')).toEqual([expect.stringMatching(/no Node/)]);
  });
});
