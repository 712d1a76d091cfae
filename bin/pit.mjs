#!/usr/bin/env node
// The `pit` command: runs the bundle that scripts/build-cli.mjs writes (npm run build:cli, done by scripts/setup.sh).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const bundle = join(dirname(fileURLToPath(import.meta.url)), '..', 'out', 'cli', 'pit.mjs');
if (!existsSync(bundle)) {
  console.error('pit: not built yet: run `npm run build:cli` (or `bash scripts/setup.sh`) first');
  process.exit(2);
}
const { main } = await import(pathToFileURL(bundle).href);
process.exitCode = await main(process.argv.slice(2));
