/**
 * Child of quiet-stderr.test.ts. argv: MODE. `fake`: writes Dawn's two warnings and one other line straight to fd 2
 * (as native code does) inside withFilteredStderr, then a line through console.error after it. `dawn` / `dawn-verbose`:
 * requests the real adapter through nodeGpu (quiet, or verbose), then prints `adapter DESCRIPTION` on stdout.
 */
import { writeSync } from 'node:fs';
import { acquireDevice } from '../../core/gpu/device.ts';
import { nodeGpu } from '../../core/gpu/node-gpu.ts';
import { withFilteredStderr } from '../../core/gpu/quiet-stderr.ts';

const mode = process.argv[2];
console.error('before');
if (mode === 'fake') {
  const r = withFilteredStderr(() => {
    writeSync(2, 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n');
    writeSync(2, 'a driver line that matters\n');
    writeSync(2, 'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n');
    return 42;
  });
  console.error(`after ${r}`);
} else {
  const gpu = await acquireDevice(nodeGpu(undefined, { verbose: mode === 'dawn-verbose' }));
  console.log(`adapter ${gpu.adapter.description}`);
  console.error('after');
  gpu.destroy();
}
