/**
 * The `pit` command: the same host API as the app, headless. Each subcommand has `--help`; errors are one line on
 * stderr with a non-zero exit code (1 failure, 2 usage).
 */
import { profileCommand } from './commands/profile.ts';
import { runsCommand } from './commands/runs.ts';
import { serveCommand } from './commands/serve.ts';
import { showCommand } from './commands/show.ts';
import { traceCommand } from './commands/trace.ts';
import { tuneCommand } from './commands/tune.ts';
import { exportCommand } from './commands/export.ts';
import { pruneCommand } from './commands/prune.ts';
import { ocrBatchCommand } from './commands/ocr-batch.ts';
import { demoCommand } from './commands/demo.ts';
import { UsageError, type Command } from './commands/common.ts';

const commands: Command[] = [demoCommand, profileCommand, ocrBatchCommand, runsCommand, showCommand, traceCommand, serveCommand, tuneCommand, exportCommand, pruneCommand];

const HELP = `pit — PIT Studio's command line: dynamic sparsity profiling with PIT kernels over WebGPU

Usage: pit COMMAND [options]      (pit COMMAND --help for a command's options)

Commands:
${commands.map((c) => `  ${c.name.padEnd(10)}${c.summary}`).join('\n')}

Environment:
  PIT_DB            run database (default $XDG_DATA_HOME/pit-studio/pit.db, i.e. ~/.local/share/pit-studio/pit.db)
  PIT_MAX_IMAGE_PIXELS=N  largest image input decoded, width × height (default 67108864 = 8192²; larger
                    pictures are refused from their header, before decoding)
  PIT_DEBUG=1       print stack traces with errors`;

/** Runs `pit` with `argv` (without node and script); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    const sub = name === 'help' ? commands.find((c) => c.name === rest[0]) : undefined;
    console.log(sub ? sub.help : HELP);
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    console.error(`pit: unknown command '${name}' (commands: ${commands.map((c) => c.name).join(', ')}; see pit --help)`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`pit ${cmd.name}: ${err.message.split('\n')[0]} (see pit ${cmd.name} --help)`);
      return 2;
    }
    console.error(`pit ${cmd.name}: ${err.name && err.name !== 'Error' ? `${err.name}: ` : ''}${String(err.message).split('\n')[0]}`);
    if (process.env.PIT_DEBUG) console.error(err.stack);
    return 1;
  }
}
