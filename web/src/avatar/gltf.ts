import * as THREE from 'three';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';
import type { ClientAvatarSpec } from '../../../src/avatar/client/protocol';
import { facePose } from '../../../src/avatar/frames/builtin/face-plan';
import { MOUTH_BLENDSHAPES } from '../../../src/avatar/visemes/blendshapes';
import type { AvatarFrame, AvatarRenderer, CanvasRect } from './renderer';

const SIZE = 512;

/**
 * ARKit blendshapes this renderer drives, and names other exporters use for the same shape. A
 * model without some of them still draws: those parts of the face stay at rest (a head with no
 * mouth shapes at all keeps its lips still, and says so in the console).
 */
const SHAPES: Record<string, readonly string[]> = {
  ...Object.fromEntries(MOUTH_BLENDSHAPES.map((name) => [name, [name]])),
  jawOpen: ['jawOpen', 'mouthOpen', 'viseme_aa'],
  eyeBlinkLeft: ['eyeBlinkLeft', 'eyeBlink_L', 'blink'],
  eyeBlinkRight: ['eyeBlinkRight', 'eyeBlink_R', 'blink'],
};

interface Binding {
  influences: number[];
  index: number;
}

/**
 * A GLB head whose morph targets use ARKit names (Avaturn, Character Creator, MetaHuman exports,
 * VRM with ARKit shapes), drawn with three.js: the mouth from the received voice's blendshapes,
 * blinks and idle head motion from the builtin face's own schedule (face-plan.ts `facePose`).
 */
export async function createGltf(canvas: HTMLCanvasElement, spec: ClientAvatarSpec): Promise<AvatarRenderer> {
  if (!spec.asset) throw new Error('the gltf avatar has no asset');
  canvas.width = SIZE;
  canvas.height = SIZE;
  let renderer: THREE.WebGLRenderer;
  try {
    // preserveDrawingBuffer: the picture stays readable between frames (screenshots, tests).
    renderer = new THREE.WebGLRenderer({ canvas, antialias: false, preserveDrawingBuffer: true });
  } catch (error) {
    throw new Error(`no WebGL: ${error instanceof Error ? error.message : String(error)}`);
  }
  renderer.setSize(SIZE, SIZE, false);
  const scene = new THREE.Scene();
  scene.background = new THREE.Color('#dfe7f0');
  scene.add(new THREE.HemisphereLight(0xffffff, 0x445566, 2.2));
  const key = new THREE.DirectionalLight(0xffffff, 1.6);
  key.position.set(1, 2, 3);
  scene.add(key);

  let model: THREE.Object3D;
  try {
    model = (await new GLTFLoader().loadAsync(spec.asset)).scene;
  } catch (error) {
    renderer.dispose();
    throw new Error(`cannot load ${spec.asset}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const pivot = new THREE.Group();
  pivot.add(model);
  scene.add(pivot);

  // Frame the head: centred, filling most of the canvas.
  const box = new THREE.Box3().setFromObject(model);
  const centre = box.getCenter(new THREE.Vector3());
  const size = box.getSize(new THREE.Vector3());
  model.position.sub(centre);
  const camera = new THREE.PerspectiveCamera(30, 1, 0.01, 1000);
  const reach = Math.max(size.x, size.y) / 2 / Math.tan(THREE.MathUtils.degToRad(15));
  camera.position.set(0, 0, reach * 1.15 + size.z / 2);
  camera.lookAt(0, 0, 0);

  // Morph targets by ARKit name, across every mesh (face, teeth, tongue may be separate meshes).
  const bindings = new Map<string, Binding[]>();
  model.traverse((o) => {
    const mesh = o as THREE.Mesh;
    if (!mesh.morphTargetDictionary || !mesh.morphTargetInfluences) return;
    for (const [shape, aliases] of Object.entries(SHAPES)) {
      const alias = aliases.find((a) => mesh.morphTargetDictionary![a] !== undefined);
      if (alias === undefined) continue;
      const list = bindings.get(shape) ?? [];
      list.push({ influences: mesh.morphTargetInfluences, index: mesh.morphTargetDictionary[alias]! });
      bindings.set(shape, list);
    }
  });
  const missing = Object.keys(SHAPES).filter((s) => !bindings.has(s));
  if (missing.length) console.info(`gltf avatar ${spec.asset}: no morph targets for ${missing.join(', ')}; those stay at rest`);
  if (!MOUTH_BLENDSHAPES.some((s) => bindings.has(s))) console.warn(`gltf avatar ${spec.asset}: no ARKit mouth morph targets; the lips will not move`);

  const set = (shape: string, value: number) => {
    for (const b of bindings.get(shape) ?? []) b.influences[b.index] = value;
  };
  const pose = facePose(spec.seed, 1, 1);
  const lips = lipsRect(model, camera, size);
  return {
    lips,
    draw(frame: AvatarFrame) {
      for (const shape of MOUTH_BLENDSHAPES) set(shape, frame.mouth[shape] ?? 0);
      const p = pose(frame);
      set('eyeBlinkLeft', p.lid);
      set('eyeBlinkRight', p.lid);
      // The 2D face's idle offsets (design pixels) as small head turns and nods.
      pivot.rotation.set(p.headDy * 0.01, p.headDx * 0.012, 0);
      renderer.render(scene, camera);
    },
    close() {
      model.traverse((o) => (o as THREE.Mesh).geometry?.dispose());
      renderer.dispose();
    },
  };
}

/** The mouth on the canvas: a node named like a mouth if the model has one, else the lower middle of the head. */
function lipsRect(model: THREE.Object3D, camera: THREE.Camera, headSize: THREE.Vector3): CanvasRect {
  model.updateMatrixWorld(true);
  let box: THREE.Box3 | undefined;
  model.traverse((o) => {
    if (!box && /mouth|lips/i.test(o.name)) box = new THREE.Box3().setFromObject(o);
  });
  if (!box) {
    const c = new THREE.Vector3(); // the model is centred on the origin
    box = new THREE.Box3(
      new THREE.Vector3(c.x - headSize.x * 0.2, c.y - headSize.y * 0.4, c.z),
      new THREE.Vector3(c.x + headSize.x * 0.2, c.y - headSize.y * 0.15, c.z + headSize.z / 2),
    );
  }
  const corners = [box.min, box.max].flatMap((a) => [box!.min, box!.max].map((b) => new THREE.Vector3(a.x, b.y, box!.max.z)));
  const xs: number[] = [];
  const ys: number[] = [];
  for (const v of corners) {
    const p = v.clone().project(camera);
    xs.push(((p.x + 1) / 2) * SIZE);
    ys.push(((1 - p.y) / 2) * SIZE);
  }
  const x = Math.max(0, Math.floor(Math.min(...xs)));
  const y = Math.max(0, Math.floor(Math.min(...ys)));
  return { x, y, w: Math.min(SIZE, Math.ceil(Math.max(...xs))) - x, h: Math.min(SIZE, Math.ceil(Math.max(...ys))) - y };
}
