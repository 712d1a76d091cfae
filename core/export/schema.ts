/**
 * Validation of a kernel-set manifest against its JSON Schema (`manifest.schema.json`, draft-07) with Ajv, before
 * anything is written: an export never produces a manifest a reader of the same format version would reject.
 * The kernel roles and rule families the schema allows are filled in from the kernel-family registry, so the JSON
 * file never spells out the set of families.
 */
import Ajv from 'ajv';
import schema from './manifest.schema.json' with { type: 'json' };
import { familyNames, programRoles } from '../kernels/registry.ts';

/** The schema with the registry's families and program roles as enums. */
function withRegistry(base: object): object {
  type Props = { properties: Record<string, unknown> };
  const s = structuredClone(base) as { definitions: { kernel: Props; plan: { properties: { rule: Props } } } };
  s.definitions.kernel.properties.role = { enum: programRoles() };
  s.definitions.plan.properties.rule.properties.family = { enum: familyNames() };
  return s;
}

/** The JSON Schema of `manifest.json` (format version 1), as an object, with the registered families filled in. */
export const MANIFEST_SCHEMA: object = withRegistry(schema);

let compiled: ReturnType<Ajv['compile']> | null = null;

/**
 * Validates a manifest (any JSON value).
 * @returns One line per violation (`/layers/3/plan/steps/0/workgroups: must NOT have fewer than 3 items`); empty when valid.
 */
export function manifestErrors(manifest: unknown): string[] {
  if (!compiled) compiled = new Ajv({ allErrors: true, strict: true }).compile(MANIFEST_SCHEMA);
  if (compiled(manifest)) return [];
  return (compiled.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message ?? 'invalid'}${e.params && 'allowedValues' in e.params ? ` (${(e.params.allowedValues as unknown[]).join(', ')})` : ''}`);
}
