/**
 * Validation of a kernel-set manifest against its JSON Schema (`manifest.schema.json`, draft-07) with Ajv, before
 * anything is written: an export never produces a manifest a reader of the same format version would reject.
 */
import Ajv from 'ajv';
import schema from './manifest.schema.json' with { type: 'json' };

/** The JSON Schema of `manifest.json` (format version 1), as an object. */
export const MANIFEST_SCHEMA: object = schema;

let compiled: ReturnType<Ajv['compile']> | null = null;

/**
 * Validates a manifest (any JSON value).
 * @returns One line per violation (`/layers/3/plan/steps/0/workgroups: must NOT have fewer than 3 items`); empty when valid.
 */
export function manifestErrors(manifest: unknown): string[] {
  if (!compiled) compiled = new Ajv({ allErrors: true, strict: true }).compile(schema);
  if (compiled(manifest)) return [];
  return (compiled.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message ?? 'invalid'}${e.params && 'allowedValues' in e.params ? ` (${(e.params.allowedValues as unknown[]).join(', ')})` : ''}`);
}
