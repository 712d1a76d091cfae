/**
 * Where a profiling job writes as it goes. core/ does not know SQLite: the host passes a sink backed by db/, tests
 * may pass an in-memory one. Every call is expected to be durable when it returns (a crash loses at most the
 * layer in flight).
 */
import type { AdapterDescriptor, InputRef, LayerResult, ModelRef } from '../protocol.ts';

/** The text of one generated kernel, stored once by hash. */
export interface KernelText {
  hash: string;
  label: string;
  wgsl: string;
}

export interface RunSink {
  /** Starts a run; returns its id. */
  createRun(run: { model: ModelRef; adapter: AdapterDescriptor; inputs: InputRef[]; families: string[]; repeat: number; options: object }): number;
  /** Stores one finished layer with the WGSL of every kernel that ran for it. */
  recordLayer(runId: number, layer: LayerResult, kernels: KernelText[]): void;
  /** Stores the reference run's wall time on input `input`, ms (the timeline's model time). Optional for older sinks. */
  recordReference?(runId: number, input: number, ms: number): void;
  /** Marks the run complete. */
  finishRun(runId: number): void;
  /** Marks the run incomplete with a one-line reason (`cancelled`, or the error). */
  failRun(runId: number, message: string): void;
}
