/**
 * A small line chart as SVG (and PNG through resvg), for benches whose result is a trend a person
 * would rather see than read: a few series over a shared x axis, with a dashed trend line each.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Resvg } from '@resvg/resvg-js';

export interface Series {
  name: string;
  color: string;
  points: { x: number; y: number }[];
  /** A straight line to draw over the points (e.g. a least-squares fit), from x0 to x1. */
  trend?: { slope: number; intercept: number; x0: number; x1: number };
}

export interface Plot {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
}

const W = 720;
const H = 400;
const M = { left: 64, right: 20, top: 40, bottom: 48 };

export function linePlotSvg(plot: Plot): string {
  const all = plot.series.flatMap((s) => s.points);
  const xMax = niceCeil(Math.max(1e-9, ...all.map((p) => p.x)));
  const yMax = niceCeil(Math.max(1e-9, ...all.map((p) => p.y)) * 1.1);
  const px = (x: number) => M.left + (x / xMax) * (W - M.left - M.right);
  const py = (y: number) => H - M.bottom - (y / yMax) * (H - M.top - M.bottom);
  const ticks = (max: number) => Array.from({ length: 6 }, (_, i) => (max * i) / 5);
  const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${escape(plot.title)}</text>`,
  ];
  for (const t of ticks(yMax)) {
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${py(t)}" y2="${py(t)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${M.left - 6}" y="${py(t) + 4}" text-anchor="end" fill="#555">${fmt(t)}</text>`);
  }
  for (const t of ticks(xMax)) parts.push(`<text x="${px(t)}" y="${H - M.bottom + 16}" text-anchor="middle" fill="#555">${fmt(t)}</text>`);
  parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${py(0)}" y2="${py(0)}" stroke="#333"/>`);
  parts.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${py(0)}" stroke="#333"/>`);
  parts.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 10}" text-anchor="middle">${escape(plot.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${escape(plot.yLabel)}</text>`);
  plot.series.forEach((s, i) => {
    const path = s.points.map((p, k) => `${k ? 'L' : 'M'}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ');
    parts.push(`<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    for (const p of s.points) parts.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
    if (s.trend) {
      const { slope, intercept, x0, x1 } = s.trend;
      parts.push(`<line x1="${px(x0)}" y1="${py(slope * x0 + intercept)}" x2="${px(x1)}" y2="${py(slope * x1 + intercept)}" stroke="${s.color}" stroke-dasharray="6 4" stroke-width="1.5"/>`);
    }
    const ly = M.top + 8 + i * 18;
    parts.push(`<line x1="${M.left + 12}" x2="${M.left + 36}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"/>`);
    parts.push(`<text x="${M.left + 42}" y="${ly + 4}">${escape(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Writes `<base>.svg` and `<base>.png`; returns their paths. */
export async function writeLinePlot(plot: Plot, base: string): Promise<{ svg: string; png: string }> {
  const svg = linePlotSvg(plot);
  await mkdir(dirname(base), { recursive: true });
  const png = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, background: 'white' }).render().asPng();
  await writeFile(`${base}.svg`, svg);
  await writeFile(`${base}.png`, png);
  return { svg: `${base}.svg`, png: `${base}.png` };
}

/** A round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten), at least `v`. */
function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v * (1 - 1e-9)) return m * p;
  return 10 * p;
}

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
