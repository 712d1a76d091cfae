/**
 * `If` branches (ONNX If, opset 1/11/13/16/19): when the condition of an `If` in the main graph is decided — by a
 * constant, or by the given inputs (the same way for every sample) — the node is replaced by the nodes of the branch
 * it takes, so their layers are found, captured and profiled like any other. The rewritten model is what the
 * reference run (onnxruntime) executes, so captured tensors can be fetched by name as graph outputs.
 *
 * How a condition that depends on the inputs is decided: the nodes it depends on are cut out of the graph (a
 * backward slice; a node holding subgraphs brings every value its subgraphs read) and run by onnxruntime on each
 * sample. Inlining repeats while it uncovers decidable `If`s (nested branches), at most `MAX_ROUNDS` times.
 *
 * Inlining follows the If semantics: the branch's nodes and initializers join the main graph in the If's place, and
 * an `Identity` maps each branch output to the If output of the same position. Branch values whose names already
 * exist elsewhere in the model are renamed (`NAME__IFNAME`), as are colliding node names (`IFNAME/NAME`).
 */
import type { onnx as OnnxNs } from 'onnx-proto';
import { ModelError, oneLine } from './errors.ts';
import type { FeedTensor, InlinedBranch, OnnxModel, TensorData } from './ir.ts';
import { importOnnxBytes, modelProto, onnx } from './onnx-import.ts';
import { evaluateValues } from './reference.ts';

/** Rounds of inlining (each may uncover nested `If`s). */
export const MAX_ROUNDS = 8;

/** One sample's feeds, by model input name. */
export type SampleFeeds = Record<string, TensorData | FeedTensor>;

type Decision = { branch: InlinedBranch['branch']; decidedBy: InlinedBranch['decidedBy'] } | { note: string };

/**
 * Inlines every `If` of the main graph whose condition is decided by constants or, identically for every sample, by
 * the inputs; repeats for `If`s the inlined branches bring up. Undecided ones stay, with the reason in
 * `subgraphNotes` (which `findSparseOps` shows for the ops inside them).
 *
 * @param model imported model
 * @param samples each sample's feeds (all model inputs, in their declared dtypes); may be empty, then only constant
 *   conditions are decided
 * @returns the model itself when it has no `If`; otherwise a re-imported model with the same path, sha256 and size
 *   (the run is of the file), `inlinedBranches` and `subgraphNotes` set
 * @throws ModelError when onnxruntime cannot compute a condition
 */
export async function inlineDecidedBranches(model: OnnxModel, samples: readonly SampleFeeds[]): Promise<OnnxModel> {
  if (!model.nodes.some(isIf)) return model;
  let current = model;
  const inlined: InlinedBranch[] = [];
  const notes = new Map<string, string>();
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const ifs = current.nodes.filter((n) => isIf(n) && !notes.has(n.name));
    if (!ifs.length) break;
    const decisions = await decideConditions(current, ifs.map((n) => n.inputs[0] ?? ''), samples);
    const decided = new Map<number, Extract<Decision, { branch: unknown }>>();
    ifs.forEach((n, i) => {
      const d = decisions[i]!;
      if ('note' in d) notes.set(n.name, d.note);
      else decided.set(n.index, d);
    });
    if (!decided.size) break;
    current = rewrite(current, decided, inlined);
  }
  for (const n of current.nodes) if (isIf(n) && !notes.has(n.name)) notes.set(n.name, `still undecided after ${MAX_ROUNDS} rounds of inlining`);
  return { ...current, path: model.path, sha256: model.sha256, byteLength: model.byteLength, inlinedBranches: inlined, subgraphNotes: notes };
}

function isIf(n: { opType: string; domain: string }): boolean {
  return n.opType === 'If' && (n.domain === '' || n.domain === 'ai.onnx');
}

/** The truth value of a one-element tensor, or null when it has not exactly one element. */
function truth(t: TensorData | FeedTensor): boolean | null {
  if (t.data.length !== 1) return null;
  return Number(t.data[0]) !== 0;
}

/** Decides each condition (by value name): constant, graph input, or computed by onnxruntime per sample. */
async function decideConditions(model: OnnxModel, conds: string[], samples: readonly SampleFeeds[]): Promise<Decision[]> {
  const inputNames = new Set(model.inputs.map((i) => i.name));
  const out: (Decision | null)[] = conds.map((cond) => {
    const c = model.constants.get(cond);
    if (c) {
      const v = truth({ dims: c.dims, data: c.data });
      return v === null ? { note: `condition ${cond} is a constant with ${c.data.length} elements` } : { branch: branchOf(v), decidedBy: 'constant' };
    }
    if (!samples.length) return { note: `condition ${cond} depends on the inputs, and none were given` };
    return null;
  });
  const fromInputs = conds.filter((c, i) => out[i] === null && inputNames.has(c));
  const computed = [...new Set(conds.filter((c, i) => out[i] === null && !inputNames.has(c)))];
  const values: Map<string, TensorData | FeedTensor>[] = samples.map(() => new Map());
  for (const [s, feeds] of samples.entries()) for (const c of fromInputs) if (feeds[c]) values[s]!.set(c, feeds[c]);
  if (computed.length) {
    const bytes = sliceModel(model, computed);
    for (const [s, feeds] of samples.entries()) {
      let got: Map<string, TensorData>;
      try {
        got = await evaluateValues(bytes, model.path, feeds, computed);
      } catch (err) {
        throw new ModelError(`${model.path}: cannot decide If condition(s) ${computed.join(', ')} on sample ${s}: ${oneLine(err)}`, {
          path: model.path,
          cause: err,
        });
      }
      for (const [k, v] of got) values[s]!.set(k, v);
    }
  }
  return conds.map((cond, i) => {
    if (out[i]) return out[i]!;
    const per = values.map((m) => {
      const t = m.get(cond);
      return t ? truth(t) : null;
    });
    if (per.some((v) => v === null)) return { note: `condition ${cond} is not a one-element tensor` };
    const first = per[0]!;
    if (per.some((v) => v !== first)) {
      const list = (want: boolean) => per.flatMap((v, s) => (v === want ? [s] : [])).join(', ');
      return { note: `condition ${cond} differs between samples (true for sample ${list(true)}, false for ${list(false)}); profile them separately` };
    }
    return { branch: branchOf(first), decidedBy: inputNames.has(cond) ? 'input' : 'computed' };
  });
}

function branchOf(v: boolean): InlinedBranch['branch'] {
  return v ? 'then_branch' : 'else_branch';
}

/** Every value name a node reads, including (recursively) those read inside its subgraphs. */
function namesRead(n: OnnxNs.INodeProto, into: Set<string>): void {
  for (const i of n.input ?? []) if (i) into.add(i);
  for (const a of n.attribute ?? []) for (const g of a.g ? [a.g] : (a.graphs ?? [])) for (const inner of g.node ?? []) namesRead(inner, into);
}

/** The main graph cut down to the nodes `outputs` depend on, with `outputs` as its graph outputs, encoded. */
function sliceModel(model: OnnxModel, outputs: readonly string[]): Uint8Array {
  const proto = modelProto(model);
  const graph = proto.graph!;
  const needed = new Set(outputs);
  const keep: OnnxNs.INodeProto[] = [];
  for (let i = graph.node!.length - 1; i >= 0; i--) {
    const n = graph.node![i]!;
    if (!(n.output ?? []).some((o) => needed.has(o))) continue;
    keep.push(n);
    namesRead(n, needed);
  }
  keep.reverse();
  const sliced = onnx.GraphProto.create({ ...graph, node: keep, output: outputs.map((name) => onnx.ValueInfoProto.create({ name })) });
  return onnx.ModelProto.encode(onnx.ModelProto.create({ ...proto, graph: sliced })).finish();
}

/** Every value and node name used anywhere in a graph (recursively). */
function collectNames(g: OnnxNs.IGraphProto, values: Set<string>, nodes: Set<string>): void {
  for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])]) if (v.name) values.add(v.name);
  for (const t of g.initializer ?? []) if (t.name) values.add(t.name);
  for (const n of g.node ?? []) {
    if (n.name) nodes.add(n.name);
    for (const x of [...(n.input ?? []), ...(n.output ?? [])]) if (x) values.add(x);
    for (const a of n.attribute ?? []) for (const sub of a.g ? [a.g] : (a.graphs ?? [])) collectNames(sub, values, nodes);
  }
}

/** A deep copy of a node with value names mapped by `rename` (also inside its subgraphs, where not redefined there). */
function renamedNode(n: OnnxNs.INodeProto, rename: ReadonlyMap<string, string>): OnnxNs.NodeProto {
  const copy = onnx.NodeProto.decode(onnx.NodeProto.encode(n).finish());
  if (!rename.size) return copy;
  const r = (x: string) => rename.get(x) ?? x;
  copy.input = copy.input.map(r);
  copy.output = copy.output.map(r);
  for (const a of copy.attribute) {
    for (const g of a.g ? [a.g] : (a.graphs ?? [])) {
      // A subgraph may define a value of the same name itself; then its references are to its own.
      const nodes = g.node ?? [];
      const defined = new Set([...nodes.flatMap((x) => x.output ?? []), ...(g.initializer ?? []).map((t) => t.name), ...(g.input ?? []).map((v) => v.name)]);
      const inner = new Map([...rename].filter(([k]) => !defined.has(k)));
      if (inner.size) g.node = nodes.map((x) => renamedNode(x, inner));
    }
  }
  return copy;
}

/** Replaces the decided `If` nodes (by index) with their taken branches; re-imports the rewritten model. */
function rewrite(model: OnnxModel, decided: Map<number, Extract<Decision, { branch: unknown }>>, inlined: InlinedBranch[]): OnnxModel {
  const proto = modelProto(model);
  const graph = proto.graph!;
  // Names outside the decided Ifs' subgraphs: the main graph's own, and every other node's (subgraphs included).
  const taken = new Set<string>();
  const nodeNames = new Set<string>();
  const outer: OnnxNs.IGraphProto = {
    input: graph.input,
    output: graph.output,
    valueInfo: graph.valueInfo,
    initializer: graph.initializer,
    node: (graph.node ?? []).map((n, i) => (decided.has(i) ? { name: n.name, input: n.input, output: n.output } : n)),
  };
  collectNames(outer, taken, nodeNames);
  const nodes: OnnxNs.INodeProto[] = [];
  const initializers: OnnxNs.ITensorProto[] = [...(graph.initializer ?? [])];
  const valueInfo: OnnxNs.IValueInfoProto[] = [...(graph.valueInfo ?? [])];
  graph.node!.forEach((n, index) => {
    const d = decided.get(index);
    if (!d) {
      nodes.push(n);
      return;
    }
    const ifName = model.nodes[index]!.name;
    const branch = (n.attribute ?? []).find((a) => a.name === d.branch)?.g;
    if (!branch) throw new ModelError(`${model.path}: If ${ifName} has no ${d.branch}`, { path: model.path, node: ifName });
    // Values the branch defines at its top level take a fresh name when the name is used outside the branch.
    const rename = new Map<string, string>();
    for (const v of [...(branch.node ?? []).flatMap((x) => x.output ?? []), ...(branch.initializer ?? []).map((t) => t.name ?? '')]) {
      if (!v || rename.has(v)) continue;
      if (taken.has(v)) {
        let fresh = `${v}__${ifName}`;
        for (let i = 2; taken.has(fresh); i++) fresh = `${v}__${ifName}_${i}`;
        rename.set(v, fresh);
        taken.add(fresh);
      } else {
        taken.add(v);
      }
    }
    const r = (x: string) => rename.get(x) ?? x;
    for (const inner of branch.node ?? []) {
      const copy = renamedNode(inner, rename);
      if (copy.name) {
        if (nodeNames.has(copy.name)) copy.name = `${ifName}/${copy.name}`;
        nodeNames.add(copy.name);
      }
      nodes.push(copy);
    }
    for (const t of branch.initializer ?? []) initializers.push(onnx.TensorProto.create({ ...t, name: r(t.name ?? '') }));
    for (const v of branch.valueInfo ?? []) valueInfo.push(onnx.ValueInfoProto.create({ ...v, name: r(v.name ?? '') }));
    (n.output ?? []).forEach((out, i) => {
      const src = branch.output?.[i]?.name;
      if (!out) return;
      if (!src) throw new ModelError(`${model.path}: If ${ifName} ${d.branch} has fewer outputs than the node`, { path: model.path, node: ifName });
      nodes.push(onnx.NodeProto.create({ name: `${ifName}/output_${i}`, opType: 'Identity', input: [r(src)], output: [out] }));
    });
    inlined.push({ node: ifName, branch: d.branch, decidedBy: d.decidedBy });
  });
  const g = onnx.GraphProto.create({ ...graph, node: nodes, initializer: initializers, valueInfo });
  const bytes = onnx.ModelProto.encode(onnx.ModelProto.create({ ...proto, graph: g })).finish();
  return importOnnxBytes(bytes, model.path);
}
