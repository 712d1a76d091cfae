/** Draws a chart caption (chart-export.ts) above a chart's PNG with the page's canvas (DOM only: not unit-tested). */
import type { Caption } from './chart-export.ts';

/** Height of the caption band, CSS px (scaled with the picture's pixel ratio). */
const BAND = 52;

/**
 * A PNG data URL of `chartUrl` (a chart's own PNG at `pixelRatio`) with `caption` drawn in a white band above it.
 * @throws Error when the picture cannot be decoded.
 */
export async function captionedPng(chartUrl: string, caption: Caption, pixelRatio = 2): Promise<string> {
  const img = new Image();
  img.src = chartUrl;
  await img.decode();
  const band = BAND * pixelRatio;
  const canvas = document.createElement('canvas');
  canvas.width = img.width;
  canvas.height = img.height + band;
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = '#1d232b';
  ctx.font = `600 ${15 * pixelRatio}px system-ui, sans-serif`;
  ctx.fillText(caption.title, 10 * pixelRatio, 22 * pixelRatio, canvas.width - 20 * pixelRatio);
  ctx.fillStyle = '#4a545f';
  ctx.font = `${12 * pixelRatio}px system-ui, sans-serif`;
  ctx.fillText(caption.context, 10 * pixelRatio, 42 * pixelRatio, canvas.width - 20 * pixelRatio);
  ctx.drawImage(img, 0, band);
  return canvas.toDataURL('image/png');
}
