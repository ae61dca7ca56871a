/**
 * The built-in face, drawn as SVG in a 512×512 design space. Every layer is a function that returns
 * SVG markup in design coordinates; `document()` wraps markup into an SVG cropped to a pixel rect of
 * the output frame, so sprites rasterised separately line up pixel-exactly with the base layers.
 */

export interface FacePalette {
  backgroundTop: string;
  backgroundBottom: string;
  skin: string;
  skinShade: string;
  skinDeep: string;
  blush: string;
  hair: string;
  hairLight: string;
  brow: string;
  iris: string;
  irisDark: string;
  lips: string;
  lipsDark: string;
  mouthInside: string;
  tongue: string;
  teeth: string;
  shirt: string;
  shirtDark: string;
}

export const DEFAULT_PALETTE: FacePalette = Object.freeze({
  backgroundTop: '#eef3f8',
  backgroundBottom: '#c3d3e6',
  skin: '#f4cdb0',
  skinShade: '#e2ab8b',
  skinDeep: '#c98c6c',
  blush: '#f08f86',
  hair: '#3b2920',
  hairLight: '#6a4a38',
  brow: '#3a2820',
  iris: '#4f8a78',
  irisDark: '#2b4f45',
  lips: '#d98e86',
  lipsDark: '#a95a55',
  mouthInside: '#4e1a20',
  tongue: '#d8716d',
  teeth: '#fbf8f2',
  shirt: '#406fa6',
  shirtDark: '#2c5283',
});

/** Simple style knobs (hex #rrggbb); shades are derived. `palette` overrides win over these. */
export interface FaceStyle {
  skin?: string;
  hair?: string;
  eyes?: string;
  shirt?: string;
  background?: string;
}

function parseHex(hex: string): [number, number, number] | undefined {
  const m = /^#?([0-9a-f]{6})$/i.exec(hex.trim());
  if (!m) return undefined;
  const n = parseInt(m[1]!, 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** Mix a colour towards black (amount < 0) or white (amount > 0). */
export function shade(hex: string, amount: number): string {
  const rgb = parseHex(hex);
  if (!rgb) return hex;
  const t = amount < 0 ? 0 : 255;
  const k = Math.abs(amount);
  return '#' + rgb.map((c) => Math.round(c + (t - c) * k).toString(16).padStart(2, '0')).join('');
}

/** Linear mix of two hex colours (t = 0 gives a, 1 gives b). */
export function mix(a: string, b: string, t: number): string {
  const x = parseHex(a);
  const y = parseHex(b);
  if (!x || !y) return a;
  return '#' + x.map((c, i) => Math.round(c + (y[i]! - c) * t).toString(16).padStart(2, '0')).join('');
}

/** The palette for a style: unspecified parts keep the defaults. Invalid colours are ignored. */
export function paletteFor(style: FaceStyle = {}, overrides: Partial<FacePalette> = {}): FacePalette {
  const p: FacePalette = { ...DEFAULT_PALETTE };
  const ok = (c: string | undefined): c is string => c !== undefined && parseHex(c) !== undefined;
  if (ok(style.skin)) {
    p.skin = style.skin;
    p.skinShade = shade(style.skin, -0.12);
    p.skinDeep = shade(style.skin, -0.26);
    p.lips = mix(style.skin, '#c4545a', 0.45);
    p.lipsDark = shade(mix(style.skin, '#9c3c44', 0.5), -0.15);
    p.blush = mix(style.skin, '#f07080', 0.5);
  }
  if (ok(style.hair)) {
    p.hair = style.hair;
    p.hairLight = shade(style.hair, 0.22);
    p.brow = shade(style.hair, -0.1);
  }
  if (ok(style.eyes)) {
    p.iris = style.eyes;
    p.irisDark = shade(style.eyes, -0.4);
  }
  if (ok(style.shirt)) {
    p.shirt = style.shirt;
    p.shirtDark = shade(style.shirt, -0.28);
  }
  if (ok(style.background)) {
    p.backgroundTop = shade(style.background, 0.45);
    p.backgroundBottom = style.background;
  }
  return { ...p, ...overrides };
}

/** Eye centres and other landmarks in design space. */
export const LAYOUT = Object.freeze({
  eyeL: { x: 208, y: 246 },
  eyeR: { x: 304, y: 246 },
  mouth: { x: 256, y: 337 },
  /** Design-space rects (x, y, w, h) of the sprites. */
  eyeRect: { w: 84, h: 54, dy: -31 },
  browRect: { w: 64, h: 26, dy: -50 },
  mouthRect: { x: 152, y: 304, w: 208, h: 112 },
  headRect: { x: 112, y: 52, w: 288, h: 360 },
  bodyRect: { x: 0, y: 300, w: 512, h: 212 },
});

/** Maximum lip gap (design px) at jawOpen = 1, and how much of it moves the chin. */
export const MAX_GAP = 36;
const CHIN_FOLLOW = 0.42;

const f = (n: number) => (Math.round(n * 100) / 100).toString();

export function defs(p: FacePalette): string {
  return `<defs>
<linearGradient id="bg" gradientUnits="userSpaceOnUse" x1="0" y1="0" x2="0" y2="512"><stop offset="0" stop-color="${p.backgroundTop}"/><stop offset="1" stop-color="${p.backgroundBottom}"/></linearGradient>
<radialGradient id="glow" gradientUnits="userSpaceOnUse" cx="256" cy="215" r="250"><stop offset="0" stop-color="#ffffff" stop-opacity="0.55"/><stop offset="1" stop-color="#ffffff" stop-opacity="0"/></radialGradient>
<radialGradient id="skin" gradientUnits="userSpaceOnUse" cx="244" cy="220" r="190"><stop offset="0" stop-color="${p.skin}"/><stop offset="0.62" stop-color="${p.skin}"/><stop offset="1" stop-color="${p.skinShade}"/></radialGradient>
<linearGradient id="neck" gradientUnits="userSpaceOnUse" x1="0" y1="340" x2="0" y2="430"><stop offset="0" stop-color="${p.skinDeep}"/><stop offset="0.55" stop-color="${p.skinShade}"/><stop offset="1" stop-color="${p.skinShade}"/></linearGradient>
<linearGradient id="shirt" gradientUnits="userSpaceOnUse" x1="0" y1="400" x2="0" y2="512"><stop offset="0" stop-color="${p.shirt}"/><stop offset="1" stop-color="${p.shirtDark}"/></linearGradient>
<linearGradient id="hair" gradientUnits="userSpaceOnUse" x1="180" y1="60" x2="330" y2="300"><stop offset="0" stop-color="${p.hairLight}"/><stop offset="0.45" stop-color="${p.hair}"/><stop offset="1" stop-color="${p.hair}"/></linearGradient>
<radialGradient id="blush" cx="0.5" cy="0.5" r="0.5"><stop offset="0" stop-color="${p.blush}" stop-opacity="0.42"/><stop offset="1" stop-color="${p.blush}" stop-opacity="0"/></radialGradient>
<radialGradient id="iris" cx="0.5" cy="0.45" r="0.55"><stop offset="0" stop-color="${p.iris}"/><stop offset="0.75" stop-color="${p.iris}"/><stop offset="1" stop-color="${p.irisDark}"/></radialGradient>
<linearGradient id="lips" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${p.lipsDark}"/><stop offset="0.45" stop-color="${p.lips}"/><stop offset="1" stop-color="${p.lips}"/></linearGradient>
<linearGradient id="sclera" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#e6dfdc"/><stop offset="0.35" stop-color="#fbfaf8"/><stop offset="1" stop-color="#fbfaf8"/></linearGradient>
</defs>`;
}

/** Wrap design-space markup into an SVG rendering the output-pixel rect (px, py, pw, ph). */
export function document(p: FacePalette, view: Viewport, px: number, py: number, pw: number, ph: number, body: string): string {
  const s = view.scale;
  const vx = (px - view.ox) / s;
  const vy = (py - view.oy) / s;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${pw}" height="${ph}" viewBox="${vx} ${vy} ${pw / s} ${ph / s}">${defs(p)}${body}</svg>`;
}

/** Maps design space to output pixels: pixel = o + design * scale. */
export interface Viewport {
  scale: number;
  ox: number;
  oy: number;
}

export function background(): string {
  return `<rect x="-4000" y="-4000" width="8512" height="8512" fill="url(#bg)"/><rect x="-4000" y="-4000" width="8512" height="8512" fill="url(#glow)"/>`;
}

export function body(p: FacePalette): string {
  return `<path d="M178 132 C118 172 104 250 108 330 C110 382 112 420 122 446 C150 452 176 446 200 436 L312 436 C336 446 362 452 390 446 C400 420 402 382 404 330 C408 250 394 172 334 132 Z" fill="${p.hair}"/>
<path d="M124 420 C118 380 116 330 118 280" fill="none" stroke="${p.hairLight}" stroke-width="3" stroke-linecap="round" opacity="0.35"/>
<path d="M388 420 C394 380 396 330 394 280" fill="none" stroke="${p.hairLight}" stroke-width="3" stroke-linecap="round" opacity="0.35"/>
<path d="M214 318 C214 360 212 396 204 428 L308 428 C300 396 298 360 298 318 Z" fill="url(#neck)"/>
<path d="M40 540 C44 470 92 438 176 424 C196 420 208 416 214 410 C232 432 280 432 298 410 C304 416 316 420 336 424 C420 438 468 470 472 540 Z" fill="url(#shirt)"/>
<path d="M208 412 C226 446 286 446 304 412 C300 408 297 404 296 400 C280 428 232 428 216 400 C215 404 212 408 208 412 Z" fill="${p.shirtDark}" opacity="0.55"/>
<path d="M120 500 C128 470 142 456 160 448" fill="none" stroke="${p.shirtDark}" stroke-width="3" stroke-linecap="round" opacity="0.5"/>
<path d="M392 500 C384 470 370 456 352 448" fill="none" stroke="${p.shirtDark}" stroke-width="3" stroke-linecap="round" opacity="0.5"/>`;
}

/** Head outline; `drop` lowers the chin (jaw opening), in design px. */
export function headPath(drop: number): string {
  const c = drop;
  const a = drop * 0.35;
  return `M256 ${f(392 + c)} C${f(294)} ${f(392 + c)} ${f(326)} ${f(368 + c * 0.8)} ${f(346)} ${f(334 + a)} C362 310 368 282 368 252 C370 160 322 94 256 94 C190 94 142 160 144 252 C144 282 150 310 166 ${f(334 + a)} C${f(186)} ${f(368 + c * 0.8)} ${f(218)} ${f(392 + c)} 256 ${f(392 + c)} Z`;
}

/** Head without eyes, brows and mouth: back hair, ears, skin, cheeks, nose, front hair. */
export function head(p: FacePalette, chinDrop = 0): string {
  return `<ellipse cx="146" cy="262" rx="15" ry="26" fill="${p.skinShade}"/>
<ellipse cx="366" cy="262" rx="15" ry="26" fill="${p.skinShade}"/>
<path d="M146 248 C140 256 140 270 148 278" fill="none" stroke="${p.skinDeep}" stroke-width="3" stroke-linecap="round"/>
<path d="M366 248 C372 256 372 270 364 278" fill="none" stroke="${p.skinDeep}" stroke-width="3" stroke-linecap="round"/>
<path d="${headPath(chinDrop)}" fill="url(#skin)"/>
<ellipse cx="176" cy="302" rx="30" ry="18" fill="url(#blush)"/>
<ellipse cx="336" cy="302" rx="30" ry="18" fill="url(#blush)"/>
<path d="M262 258 C266 272 270 284 272 292" fill="none" stroke="${p.skinShade}" stroke-width="4" stroke-linecap="round" opacity="0.7"/>
<path d="M243 297 C247 304 252 306 256 306 C260 306 265 304 269 297" fill="none" stroke="${p.skinDeep}" stroke-width="3.2" stroke-linecap="round"/>
<ellipse cx="256" cy="292" rx="9" ry="6" fill="#ffffff" opacity="0.18"/>
<path d="M136 318 C124 232 128 146 178 100 C214 70 292 64 334 84 C382 108 398 172 392 244 C390 276 386 300 378 322 C366 302 360 270 358 236 C356 200 348 168 330 148 C318 136 306 128 296 126 C272 150 222 178 166 200 C158 236 156 272 154 318 C148 326 142 326 136 318 Z" fill="url(#hair)"/>
<path d="M296 126 C272 152 226 176 168 198" fill="none" stroke="${p.hair}" stroke-width="2.5" opacity="0.7"/>
<path d="M292 96 C270 128 228 150 184 168" fill="none" stroke="${p.hairLight}" stroke-width="4" stroke-linecap="round" opacity="0.55"/>
<path d="M318 96 C344 112 362 140 370 180" fill="none" stroke="${p.hairLight}" stroke-width="4" stroke-linecap="round" opacity="0.45"/>
<path d="M170 126 C150 160 142 210 142 262" fill="none" stroke="${p.hairLight}" stroke-width="3" stroke-linecap="round" opacity="0.35"/>`;
}

export interface EyeState {
  /** Upper-lid closure 0 (open) .. 1 (closed). */
  closure: number;
  /** Gaze offset of the iris, design px. */
  gx: number;
  gy: number;
}

/** One eye (sclera, iris, lids, lashes, crease) centred at (cx, cy); `side` -1 = left, 1 = right (outer corner direction). */
export function eye(p: FacePalette, cx: number, cy: number, side: -1 | 1, st: EyeState, id: string): string {
  const w = 27;
  const outer = cx + side * w;
  const inner = cx - side * w;
  const openTop = cy - 21;
  const lowY = cy + 12;
  const c = Math.max(0, Math.min(1, st.closure));
  // The upper lid's control points slide down towards the lower lid as the eye closes.
  const upY = openTop + (lowY + 1 - openTop) * c;
  const cornerY = cy + 1;
  const upper = `M${f(inner)} ${f(cornerY)} C${f(cx - side * 15)} ${f(upY)} ${f(cx + side * 13)} ${f(upY - 1)} ${f(outer)} ${f(cornerY - 3)}`;
  const lower = `C${f(cx + side * 13)} ${f(lowY)} ${f(cx - side * 15)} ${f(lowY + 1)} ${f(inner)} ${f(cornerY)} Z`;
  const opening = `${upper} ${lower}`;
  const ix = cx + st.gx;
  const iy = cy - 2 + st.gy;
  const lash = c > 0.85 ? 3.4 : 3.2;
  return `<clipPath id="${id}"><path d="${opening}"/></clipPath>
<path d="M${f(inner + side * 2)} ${f(cy - 14)} C${f(cx - side * 12)} ${f(cy - 31)} ${f(cx + side * 14)} ${f(cy - 31)} ${f(outer + side * 3)} ${f(cy - 11)}" fill="none" stroke="${p.skinShade}" stroke-width="2" stroke-linecap="round" opacity="0.6"/>
${
  c < 0.97
    ? `<g clip-path="url(#${id})"><rect x="${cx - 32}" y="${cy - 30}" width="64" height="50" fill="url(#sclera)"/>
<circle cx="${f(ix)}" cy="${f(iy)}" r="14.5" fill="url(#iris)"/>
<circle cx="${f(ix)}" cy="${f(iy)}" r="14.5" fill="none" stroke="${p.irisDark}" stroke-width="1.5"/>
<circle cx="${f(ix)}" cy="${f(iy)}" r="6.6" fill="#16110f"/>
<circle cx="${f(ix + 5)}" cy="${f(iy - 5)}" r="3.8" fill="#ffffff"/>
<circle cx="${f(ix - 4.6)}" cy="${f(iy + 4.8)}" r="1.7" fill="#ffffff" opacity="0.8"/>
<path d="${upper}" fill="none" stroke="#000000" stroke-opacity="0.18" stroke-width="7"/></g>`
    : ''
}
<path d="${upper}" fill="none" stroke="#2a1c18" stroke-width="${lash}" stroke-linecap="round"/>
<path d="M${f(outer - side * 2)} ${f(cornerY - 3)} Q${f(outer + side * 3)} ${f(cornerY - 4 + c * 2)} ${f(outer + side * 6)} ${f(cornerY - 8 + c * 4)}" fill="none" stroke="#2a1c18" stroke-width="2.4" stroke-linecap="round"/>
<path d="M${f(inner + side * 5)} ${f(cornerY + 4)} C${f(cx - side * 8)} ${f(lowY + 2)} ${f(cx + side * 10)} ${f(lowY + 1)} ${f(outer - side * 4)} ${f(cornerY + 1)}" fill="none" stroke="${p.skinDeep}" stroke-width="1.2" stroke-linecap="round" opacity="0.45"/>`;
}

export function brow(p: FacePalette, cx: number, cy: number, side: -1 | 1): string {
  const inner = cx - side * 22;
  const outer = cx + side * 25;
  return `<path d="M${f(inner)} ${f(cy - 31)} C${f(cx - side * 8)} ${f(cy - 40)} ${f(cx + side * 10)} ${f(cy - 41)} ${f(outer)} ${f(cy - 33)}" fill="none" stroke="${p.brow}" stroke-width="7" stroke-linecap="round"/>
<path d="M${f(inner + side * 2)} ${f(cy - 31)} C${f(cx - side * 8)} ${f(cy - 38)} ${f(cx + side * 6)} ${f(cy - 39)} ${f(cx + side * 16)} ${f(cy - 36)}" fill="none" stroke="${p.brow}" stroke-width="9" stroke-linecap="round" opacity="0.6"/>`;
}

/** Parameters of one mouth sprite. */
export interface MouthState {
  /** Lip opening 0..1 (jaw times lip closure). */
  open: number;
  /** -1 rounded (o/u, pucker) .. 0 neutral .. 1 wide (i/e, smile). */
  shape: number;
  /** 0..1: lips parted around closed teeth (s, z, sh, t). */
  teeth: number;
  /** 0..1: lips pressed together (b/p/m closure). */
  press: number;
}

/** The mouth and lips for a state, plus the chin drop in design px that goes with it. */
export function mouth(p: FacePalette, st: MouthState): { svg: string; chinDrop: number } {
  const { x: cx, y: cy } = LAYOUT.mouth;
  const wide = Math.max(0, st.shape);
  const round = Math.max(0, -st.shape);
  const press = Math.max(0, Math.min(1, st.press));
  const open = Math.max(0, Math.min(1, st.open));
  const teeth = Math.max(0, Math.min(1, st.teeth));

  const halfW = 31 * (1 + 0.26 * wide - 0.42 * round) * (1 - 0.06 * press) * (1 - 0.08 * open * (1 - wide));
  const jawGap = open * MAX_GAP * (1 - 0.22 * wide + 0.1 * round);
  const lipGap = Math.max(jawGap, teeth * 10 * (1 - round * 0.5));
  const cornerY = cy - 5 * (1 - press) * (1 - round) * (1 - 0.5 * open) - 4 * wide + 0.8 * round;
  const upInner = cy - lipGap * 0.28 - teeth * 1;
  const lowInner = cy + lipGap * 0.72;
  const tU = (5 + 4 * round) * (1 - 0.5 * press);
  const tL = (7 + 4 * round) * (1 - 0.5 * press);
  const L = cx - halfW;
  const R = cx + halfW;
  // Inner opening: four cubic arcs through the corners and the inner lip midpoints; rounded
  // mouths get vertical tangents at the corners (an O), wide ones sharp corners.
  const vy = (0.1 + 0.45 * round) * lipGap;
  const hx = halfW * (0.62 - 0.08 * round);
  const inner = `M${f(L)} ${f(cornerY)} C${f(L)} ${f(cornerY - vy)} ${f(cx - hx)} ${f(upInner)} ${f(cx)} ${f(upInner)} C${f(cx + hx)} ${f(upInner)} ${f(R)} ${f(cornerY - vy)} ${f(R)} ${f(cornerY)} C${f(R)} ${f(cornerY + vy)} ${f(cx + hx)} ${f(lowInner)} ${f(cx)} ${f(lowInner)} C${f(cx - hx)} ${f(lowInner)} ${f(L)} ${f(cornerY + vy)} ${f(L)} ${f(cornerY)} Z`;
  const upperLine = `M${f(L)} ${f(cornerY)} C${f(L)} ${f(cornerY - vy)} ${f(cx - hx)} ${f(upInner)} ${f(cx)} ${f(upInner)} C${f(cx + hx)} ${f(upInner)} ${f(R)} ${f(cornerY - vy)} ${f(R)} ${f(cornerY)}`;
  // Outer lip contour with a cupid's bow on top.
  const oL = L - 2.5 - round * 2;
  const oR = R + 2.5 + round * 2;
  const topY = upInner - tU;
  const bow = 2.2 * (1 - round * 0.6);
  const botY = lowInner + tL;
  const outer = `M${f(oL)} ${f(cornerY)} C${f(oL + halfW * 0.25)} ${f(topY + 3 - round * 4)} ${f(cx - halfW * 0.45)} ${f(topY - 1)} ${f(cx - 7)} ${f(topY - 0.5)} Q${f(cx)} ${f(topY + bow * 0.2)} ${f(cx)} ${f(topY + bow)} Q${f(cx)} ${f(topY + bow * 0.2)} ${f(cx + 7)} ${f(topY - 0.5)} C${f(cx + halfW * 0.45)} ${f(topY - 1)} ${f(oR - halfW * 0.25)} ${f(topY + 3 - round * 4)} ${f(oR)} ${f(cornerY)} C${f(oR - halfW * 0.15)} ${f(botY - 2 + round * 2)} ${f(cx + halfW * 0.55)} ${f(botY)} ${f(cx)} ${f(botY)} C${f(cx - halfW * 0.55)} ${f(botY)} ${f(oL + halfW * 0.15)} ${f(botY - 2 + round * 2)} ${f(oL)} ${f(cornerY)} Z`;

  const parts: string[] = [];
  // Soft shadow under the lower lip and chin crease.
  parts.push(
    `<path d="M${f(cx - halfW * 0.5)} ${f(botY + 6)} Q${f(cx)} ${f(botY + 10)} ${f(cx + halfW * 0.5)} ${f(botY + 6)}" fill="none" stroke="${p.skinShade}" stroke-width="3" stroke-linecap="round" opacity="${f(0.55 + 0.3 * press)}"/>`,
  );
  parts.push(`<path d="${outer}" fill="url(#lips)"/>`);
  if (lipGap > 0.6) {
    parts.push(`<clipPath id="mo"><path d="${inner}"/></clipPath>`);
    parts.push(`<path d="${inner}" fill="${p.mouthInside}"/>`);
    parts.push(`<g clip-path="url(#mo)">`);
    // Tongue at the bottom of an open mouth.
    if (jawGap > 8) {
      parts.push(`<ellipse cx="${cx}" cy="${f(lowInner + 2)}" rx="${f(halfW * 0.62)}" ry="${f(jawGap * 0.33)}" fill="${p.tongue}"/>`);
    }
    // Upper teeth hang from the upper lip; with "teeth" the lower row shows too, nearly touching.
    const upperTeethH = jawGap > 2 ? Math.min(8, 2 + jawGap * 0.28) + teeth * 3 : teeth * 5 + 1;
    parts.push(
      `<rect x="${f(cx - halfW * 0.72)}" y="${f(upInner - 4)}" width="${f(halfW * 1.44)}" height="${f(upperTeethH + 4)}" rx="3" fill="${p.teeth}"/>`,
    );
    if (teeth > 0.05 || jawGap < 6) {
      const lowerTop = Math.max(upInner + upperTeethH + 1.2, lowInner - (teeth * 5 + 1));
      parts.push(
        `<rect x="${f(cx - halfW * 0.62)}" y="${f(lowerTop)}" width="${f(halfW * 1.24)}" height="${f(lowInner - lowerTop + 4)}" rx="2.5" fill="#efe9e0"/>`,
      );
    }
    parts.push(`<path d="M${f(cx)} ${f(upInner)} L${f(cx)} ${f(upInner + upperTeethH)}" stroke="#d9d2c8" stroke-width="1"/>`);
    parts.push(`</g>`);
    parts.push(`<path d="${inner}" fill="none" stroke="${p.lipsDark}" stroke-width="1.6"/>`);
  } else {
    parts.push(
      `<path d="${upperLine}" fill="none" stroke="${p.lipsDark}" stroke-width="${f(2.4 + press * 0.8)}" stroke-linecap="round"/>`,
    );
  }
  // Lower lip highlight and corner tucks (dimples on smiles).
  parts.push(
    `<path d="M${f(cx - halfW * 0.35)} ${f(lowInner + tL * 0.45)} Q${f(cx)} ${f(lowInner + tL * 0.62)} ${f(cx + halfW * 0.35)} ${f(lowInner + tL * 0.45)}" fill="none" stroke="#ffffff" stroke-width="2.2" stroke-linecap="round" opacity="${f(0.28 * (1 - press))}"/>`,
  );
  const tuck = 0.35 + 0.5 * wide + 0.3 * press;
  parts.push(
    `<path d="M${f(oL - 1)} ${f(cornerY - 3 - wide * 2)} Q${f(oL - 4)} ${f(cornerY)} ${f(oL - 1)} ${f(cornerY + 3)}" fill="none" stroke="${p.skinDeep}" stroke-width="1.8" stroke-linecap="round" opacity="${f(tuck)}"/>`,
    `<path d="M${f(oR + 1)} ${f(cornerY - 3 - wide * 2)} Q${f(oR + 4)} ${f(cornerY)} ${f(oR + 1)} ${f(cornerY + 3)}" fill="none" stroke="${p.skinDeep}" stroke-width="1.8" stroke-linecap="round" opacity="${f(tuck)}"/>`,
  );
  return { svg: parts.join('\n'), chinDrop: jawGap * CHIN_FOLLOW };
}
