/**
 * Text boxes on real photos: PaddleOCR v4 det (onnxruntime) + @gutenye/ocr-common's post-processing (OpenCV
 * contours, Clipper unclip, perspective crops). The webcam screenshot of @vladmandic/face-api has a dozen lines of
 * text over the picture (caption block, overlay); the photo of people without lettering has none.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReferenceSession, type ReferenceRunner } from '../../core/model/capture.ts';
import { importModel } from '../../core/model/import.ts';
import { decodePhotos, detectPhoto, OCR_ASSETS, ocrAsset } from '../../core/ocr/det.ts';
import { textLines } from '../../core/ocr/boxes.ts';

const demo = join(import.meta.dirname, '..', '..', 'node_modules', '@vladmandic', 'face-api', 'demo');

describe('text boxes from det on real photos', () => {
  let det: ReferenceRunner;
  beforeAll(async () => {
    det = await createReferenceSession(importModel(ocrAsset(OCR_ASSETS.det)), []);
  });
  afterAll(() => det.release());

  it('the webcam screenshot: a dozen or so lines, every box inside the photo, crops wider than tall', async () => {
    const [photo] = decodePhotos([join(demo, 'screenshot-webcam.png')]);
    const d = await detectPhoto(det, photo!, 960);
    expect(d.detSize).toEqual([960, 640]);
    expect(d.lines.length).toBeGreaterThanOrEqual(8);
    expect(d.lines.length).toBeLessThanOrEqual(30);
    for (const l of d.lines) {
      for (const [x, y] of l.box) {
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThanOrEqual(d.width);
        expect(y).toBeGreaterThanOrEqual(0);
        expect(y).toBeLessThanOrEqual(d.height);
      }
      expect(l.crop.width * l.crop.height * 3).toBe(l.crop.data.length);
      expect(l.crop.order).toBe('BGR');
    }
    // Most are horizontal text lines.
    expect(d.lines.filter((l) => l.crop.width > 2 * l.crop.height).length).toBeGreaterThanOrEqual(d.lines.length - 2);
    // Reading order: tops ascending.
    const tops = d.lines.map((l) => Math.min(...l.box.map((p) => p[1])));
    expect([...tops].sort((a, b) => a - b)).toEqual(tops);
    // The caption block is the bottom sixth of the picture (y > 1080 of 1280): most lines are there.
    expect(tops.filter((y) => y > 1080).length).toBeGreaterThanOrEqual(5);
  });

  it('a photo without lettering has no line; an empty map has none either', async () => {
    const [photo] = decodePhotos([join(demo, 'sample2.jpg')]);
    expect((await detectPhoto(det, photo!, 960)).lines).toEqual([]);
    expect(await textLines(new Float32Array(64 * 32), 64, 32, photo!.image)).toEqual([]);
  });

  it('a synthetic map with one bright bar gives one box around it, scaled to the photo (labelled synthetic)', async () => {
    const [h, w] = [64, 128];
    const prob = new Float32Array(h * w);
    for (let y = 20; y < 30; y++) for (let x = 10; x < 90; x++) prob[y * w + x] = 0.9;
    const photo = { width: 256, height: 128, order: 'BGR' as const, data: new Uint8Array(256 * 128 * 3).fill(200) };
    const lines = await textLines(prob, h, w, photo);
    expect(lines).toHaveLength(1);
    const xs = lines[0]!.box.map((p) => p[0]);
    const ys = lines[0]!.box.map((p) => p[1]);
    // The bar spans x 10–89, y 20–29 of the map; unclipped by 1.5·area/perimeter ≈ 6.8 px, then ×2 to the photo.
    expect(Math.min(...xs)).toBeLessThan(20);
    expect(Math.max(...xs)).toBeGreaterThan(178);
    expect(Math.min(...ys)).toBeLessThan(40);
    expect(Math.max(...ys)).toBeGreaterThan(58);
    expect(lines[0]!.crop.width).toBeGreaterThan(4 * lines[0]!.crop.height);
  });
});
