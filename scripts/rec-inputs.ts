/**
 * Inputs for measuring PP-OCRv4 rec at fixed widths: strips of a real photo (no text — the photos the packages ship
 * have none; see the measurements in the README) cut to the aspect of a W×48 text line and preprocessed as PaddleOCR
 * rec does (`paddle-rec`: height 48, (x/255 − 0.5)/0.5, BGR), written as float32 .npy [1, 3, 48, W].
 *
 *   npx tsx scripts/rec-inputs.ts OUT_DIR [PHOTO] [WIDTH…]     (default: face-api sample1.jpg, widths 80 and 320)
 *
 * Each strip is centred on the photo, its height a third of the photo's (less when the photo is not wide enough), its
 * width height·W/48, so it fills the W columns without padding.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImageFile, type Image8 } from '../core/inputs/image.ts';
import { preprocessImage, presetSpec } from '../core/inputs/presets.ts';
import { npyBytes } from '../core/export/npy.ts';

const [outDir, photo = 'node_modules/@vladmandic/face-api/demo/sample1.jpg', ...widthArgs] = process.argv.slice(2);
if (!outDir) {
  console.error('usage: npx tsx scripts/rec-inputs.ts OUT_DIR [PHOTO] [WIDTH...]');
  process.exit(2);
}
const widths = widthArgs.length ? widthArgs.map(Number) : [80, 320];
const img = decodeImageFile(photo);
mkdirSync(outDir, { recursive: true });
for (const w of widths) {
  const ch = Math.min(Math.floor(img.height / 3), Math.floor((img.width * 48) / w));
  const cw = Math.min(img.width, Math.round((ch * w) / 48));
  const [x0, y0] = [Math.floor((img.width - cw) / 2), Math.floor((img.height - ch) / 2)];
  const data = new Uint8Array(cw * ch * 3);
  for (let y = 0; y < ch; y++) data.set(img.data.subarray(((y0 + y) * img.width + x0) * 3, ((y0 + y) * img.width + x0 + cw) * 3), y * cw * 3);
  const strip: Image8 = { ...img, width: cw, height: ch, data };
  const t = preprocessImage(strip, { ...presetSpec('paddle-rec'), width: w, growWidth: false });
  const path = join(outDir, `rec-strip-w${w}.npy`);
  writeFileSync(path, npyBytes(t.data, t.dims));
  console.log(`${path}: [${t.dims.join(', ')}] from ${photo} [${x0}, ${y0}] ${cw}x${ch}`);
}
