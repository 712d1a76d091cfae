/**
 * The real host: the HostService wired to the run database, dawn.node and the profiling job. Used by the host
 * child process (Electron) and by `pit serve` (web mode).
 */
import pkg from '../../package.json' with { type: 'json' };
import { acquireDevice } from '../../core/gpu/device.ts';
import { nodeGpu } from '../../core/gpu/node-gpu.ts';
import { PipelineCache } from '../../core/gpu/pipeline-cache.ts';
import { DEFAULT_IMAGE_SIZE, defaultInputs } from '../../core/inputs/default.ts';
import { tune } from '../../core/pit/tuner.ts';
import { familyInfos } from '../../core/kernels/registry.ts';
import { DEFAULT_WARMUP_MS, profileModel } from '../../core/profile/profile.ts';
import { openDatabase, type PitDatabase } from '../../db/open.ts';
import { dbSink } from './db-sink.ts';
import { HostService } from './service.ts';

/** Repeat count the app proposes: enough for a stable median on a real GPU, small enough on lavapipe. */
export const DEFAULT_REPEAT = 5;

/** A running host and how to shut it down. */
export interface Host {
  service: HostService;
  db: PitDatabase;
  dbPath: string;
  /** Cancels the job in flight, releases the GPU and closes the database. */
  close(): Promise<void>;
}

/**
 * Opens the database at `dbPath` and builds the host over it. The GPU is not touched until a method needs it.
 * @param options.createDirs create the database's folder when missing (only for the default location).
 * @throws DatabaseError / SchemaTooNewError / NotPitDatabaseError when the database cannot be opened.
 */
export function createHost(dbPath: string, options: { createDirs?: boolean } = {}): Host {
  const db = openDatabase(dbPath, { createDirs: options.createDirs ?? false });
  const service = new HostService({
    db,
    dbPath,
    version: pkg.version,
    sink: dbSink(db),
    acquireGpu: async () => {
      const gpu = await acquireDevice(nodeGpu());
      return { gpu, cache: new PipelineCache(gpu.device) };
    },
    profile: profileModel,
    defaults: () => {
      const d = defaultInputs();
      return { modelPath: d.modelPath, inputs: d.inputs, imageSize: DEFAULT_IMAGE_SIZE, families: familyInfos(), repeat: DEFAULT_REPEAT, warmup: 1, warmupMs: DEFAULT_WARMUP_MS };
    },
    families: familyInfos(),
    tune,
  });
  return {
    service,
    db,
    dbPath,
    close: async () => {
      await service.close();
      db.close();
    },
  };
}
