import type { ClientAvatarSpec } from '../../../src/avatar/client/protocol';
import { facePose } from '../../../src/avatar/frames/builtin/face-plan';
import { ARKIT_BLENDSHAPES, MOUTH_BLENDSHAPES } from '../../../src/avatar/visemes/blendshapes';
import type { AvatarFrame, AvatarRenderer, CanvasRect } from './renderer';

const SIZE = 512;
/** A LAM archive is tens of MB: the download and the splats' load get this long. */
const LOAD_TIMEOUT_MS = 60_000;

/**
 * A Gaussian-splat head in LAM's format (https://github.com/aigc3d/LAM: a .zip holding
 * `<name>/skin.glb`, `animation.glb`, `offset.ply`, `vertex_order.json`), drawn by
 * gaussian-splat-renderer-for-lam 0.0.8, which reads all 52 ARKit blendshapes every frame: the mouth
 * shapes from the received voice (the same viseme engine as face2d and gltf), the blinks from the
 * builtin face's schedule (face-plan.ts `facePose`), every other shape at 0; its body animation is
 * the archive's own idle / speaking clips.
 *
 * The library draws on a canvas of its own (one per page, created when it is imported) and runs its
 * own animation loop. Here its loop is stopped after the first frame and driven from the page's:
 * each `draw` sets the expression, runs one frame of the library, and copies its picture onto the
 * page's canvas. The mouth therefore shows the voice of this very frame (its own loop would add up
 * to a frame), and tests read the picture where they read the other renderers'.
 */
export async function createSplat(canvas: HTMLCanvasElement, spec: ClientAvatarSpec): Promise<AvatarRenderer> {
  // One load at a time: the library hands its static canvas to the instance it constructs after the
  // download, so two loads at once (the page replacing an avatar) would both draw on the second's.
  const previous = loading;
  let release: () => void = () => undefined;
  loading = new Promise<void>((resolve) => (release = resolve));
  await previous;
  try {
    return await load(canvas, spec);
  } finally {
    release();
  }
}

let loading: Promise<void> = Promise.resolve();

async function load(canvas: HTMLCanvasElement, spec: ClientAvatarSpec): Promise<AvatarRenderer> {
  if (!spec.asset) throw new Error('the splat avatar has no asset');
  // The library takes the avatar's name from the URL: it must end in <name>.zip.
  if (!/\/[^/]+?\.zip$/.test(new URL(spec.asset, location.href).pathname)) throw new Error(`${spec.asset}: a LAM avatar is a .zip archive`);
  canvas.width = SIZE;
  canvas.height = SIZE;
  const picture = canvas.getContext('2d');
  if (!picture) throw new Error('no 2D canvas context');
  const drawn = document.createElement('canvas');
  if (!drawn.getContext('webgl2', { antialias: false })) throw new Error('no WebGL2');
  const { GaussianSplatRenderer, SceneRevealMode } = await import('gaussian-splat-renderer-for-lam');

  // The library sizes its canvas from its container: an element of the avatar's size, off screen.
  const host = document.createElement('div');
  host.style.cssText = `position:fixed;left:${-2 * SIZE}px;top:0;width:${SIZE}px;height:${SIZE}px;pointer-events:none`;
  document.body.appendChild(host);
  GaussianSplatRenderer._canvas = drawn;

  let mouth: Record<string, number> = {};
  let speaking = false;
  let lam: InstanceType<typeof GaussianSplatRenderer> | undefined;
  // getInstance logs what went wrong and resolves undefined; the splats load after it resolves and
  // their failure is an unhandled rejection. Both are caught here while the avatar loads.
  const errors: unknown[] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => {
    errors.push(args.find((a) => a instanceof Error) ?? args[0]);
    consoleError.apply(console, args);
  };
  let failLoad: (error: unknown) => void = () => undefined;
  const onRejection = (event: PromiseRejectionEvent) => failLoad(event.reason);
  window.addEventListener('unhandledrejection', onRejection);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    let loaded: () => void = () => undefined;
    const ready = new Promise<void>((resolve, reject) => {
      loaded = resolve;
      failLoad = reject;
      timer = setTimeout(() => reject(new Error(`not loaded within ${LOAD_TIMEOUT_MS / 1000} s`)), LOAD_TIMEOUT_MS);
    });
    lam = await GaussianSplatRenderer.getInstance(host, spec.asset, {
      backgroundColor: '0xdfe7f0',
      getChatState: () => (speaking ? 'Responding' : 'Idle'),
      // A fresh object each frame: the library scales the weights in place (its motion config).
      getExpressionData: () => ({ ...mouth }),
      loadProgress: (fraction) => fraction >= 1 && loaded(),
    });
    if (!lam) throw errors[0] ?? new Error('the renderer did not start');
    // Shown whole at once: the default reveal fades splats in from the origin outward, which takes
    // seconds (more at a low frame rate) for a head standing away from it.
    lam.viewer!.sceneRevealMode = SceneRevealMode.Instant;
    await ready;
  } catch (error) {
    lam?.dispose();
    host.remove();
    throw new Error(`cannot load ${spec.asset}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    clearTimeout(timer);
    console.error = consoleError;
    window.removeEventListener('unhandledrejection', onRejection);
  }
  const viewer = lam.viewer!;
  // From here the page's animation frames drive it.
  cancelAnimationFrame(viewer.requestFrameId);

  const pose = facePose(spec.seed, 1, 1);
  const lips = lipsRect(lam as LamInternals);
  return {
    lips,
    draw(frame: AvatarFrame) {
      const p = pose(frame);
      const next: Record<string, number> = {};
      for (const name of ARKIT_BLENDSHAPES) next[name] = 0;
      for (const name of MOUTH_BLENDSHAPES) next[name] = frame.mouth[name] ?? 0;
      next.eyeBlinkLeft = p.lid;
      next.eyeBlinkRight = p.lid;
      mouth = next;
      speaking = frame.speaking;
      lam!.render();
      cancelAnimationFrame(viewer.requestFrameId);
      picture.drawImage(drawn, 0, 0, SIZE, SIZE);
    },
    close() {
      lam!.dispose();
      host.remove();
    },
  };
}

/**
 * The mouth on the canvas: the splats `jawOpen` moves (closed and fully open), where the renderer
 * put them (each its vertex plus its offset), else the lower middle of the picture.
 */
function lipsRect(lam: LamInternals): CanvasRect {
  const fallback = { x: SIZE * 0.35, y: SIZE * 0.6, w: SIZE * 0.3, h: SIZE * 0.15 };
  const mesh = lam.viewer?.skinModel;
  const camera = lam.viewer?.camera;
  const centers = lam.viewer?.splatMesh?.splatDataTextures?.baseData?.centers;
  const index = mesh?.morphTargetDictionary?.jawOpen;
  const delta = index === undefined ? undefined : mesh?.geometry.morphAttributes.position?.[index];
  if (!camera || !centers || !delta) return fallback;
  camera.updateMatrixWorld(true);
  const v = new (camera.position.constructor as typeof import('three').Vector3)();
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < Math.min(delta.count, centers.length / 3); i++) {
    const d = [delta.getX(i), delta.getY(i), delta.getZ(i)] as const;
    if (Math.hypot(...d) < 1e-4) continue;
    for (const k of [0, 1]) {
      v.set(centers[3 * i]! + k * d[0], centers[3 * i + 1]! + k * d[1], centers[3 * i + 2]! + k * d[2]).project(camera);
      xs.push(((v.x + 1) / 2) * SIZE);
      ys.push(((1 - v.y) / 2) * SIZE);
    }
  }
  if (!xs.length) return fallback;
  const x = Math.max(0, Math.floor(Math.min(...xs)));
  const y = Math.max(0, Math.floor(Math.min(...ys)));
  return { x, y, w: Math.min(SIZE, Math.ceil(Math.max(...xs))) - x, h: Math.min(SIZE, Math.ceil(Math.max(...ys))) - y };
}

/** What lipsRect reads of the library's viewer (not in its public surface). */
interface LamInternals {
  viewer?: {
    camera: import('three').PerspectiveCamera;
    skinModel?: import('three').SkinnedMesh;
    splatMesh?: { splatDataTextures?: { baseData?: { centers?: Float32Array } } };
  };
}
