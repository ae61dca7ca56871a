import { planBuiltinFace } from '../../../src/avatar/frames/builtin/face-plan';
import type { ClientAvatarSpec } from '../../../src/avatar/client/protocol';
import type { AvatarFrame, AvatarRenderer } from './renderer';

/** The canvas size of the 2D face: the worker's default frame size. */
export const FACE2D_SIZE = 512;

/**
 * The built-in face, drawn by the page: the worker's own plan (src/avatar/frames/builtin/
 * face-plan.ts: the same SVG layers, blinks, idle motion and mouth grid), each layer decoded once
 * into a bitmap by the browser, then per frame the background and the plan's draw list.
 */
export async function createFace2d(canvas: HTMLCanvasElement, spec: ClientAvatarSpec): Promise<AvatarRenderer> {
  const plan = planBuiltinFace({ width: FACE2D_SIZE, height: FACE2D_SIZE, seed: spec.seed, style: spec.style });
  canvas.width = plan.width;
  canvas.height = plan.height;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2D canvas context');
  const bitmaps = await Promise.all(plan.layers.map((layer) => decodeSvg(layer.svg)));
  return {
    lips: plan.layout.lips,
    draw(frame: AvatarFrame) {
      ctx.drawImage(bitmaps[plan.background.id]!, 0, 0);
      for (const d of plan.draws(frame)) ctx.drawImage(bitmaps[d.layer.id]!, d.layer.x + d.dx, d.layer.y + d.dy);
    },
    close() {
      for (const b of bitmaps) b.close();
    },
  };
}

async function decodeSvg(svg: string): Promise<ImageBitmap> {
  const image = new Image();
  image.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
  await image.decode();
  return createImageBitmap(image);
}
