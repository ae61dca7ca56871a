/**
 * Who holds what grew between two heap snapshots of one process (the long-call bench's
 * `--snapshots` pair, kept in bench/out/snapshots/<family>/). V8 keeps an object's snapshot id
 * for the life of the process, so the objects of the second snapshot whose id the first does not
 * have are the ones allocated (and still reachable) since. For each of those, the
 * shortest retaining path from the GC roots is walked up to the first object that already existed
 * at the first snapshot: that old object is the holder that accumulates. The new objects are
 * grouped by holder (its constructor, the edge the new ones hang from, and its own path to the
 * roots), and the groups are printed biggest first, with what they hold by constructor.
 *
 * Run: npx tsx bench/heap-retainers.ts bench/out/snapshots/default/job-1.heapsnapshot bench/out/snapshots/default/job-2.heapsnapshot [--top 15]
 * (node needs heap for a 100+ MB snapshot: NODE_OPTIONS=--max-old-space-size=4096)
 */
import { readFile } from 'node:fs/promises';

interface RawSnapshot {
  snapshot: {
    meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] };
    node_count: number;
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export interface Heap {
  count: number;
  type: string[];
  name: string[];
  id: Float64Array;
  size: Float64Array;
  /** Edges out of node n: firstEdge[n] .. firstEdge[n + 1] - 1 in edgeTo / edgeType / edgeName. */
  firstEdge: Uint32Array;
  edgeTo: Uint32Array;
  edgeType: string[];
  edgeName: string[];
}

export async function loadHeap(path: string): Promise<Heap> {
  const raw = JSON.parse(await readFile(path, 'utf8')) as RawSnapshot;
  const nf = raw.snapshot.meta.node_fields;
  const ef = raw.snapshot.meta.edge_fields;
  const nodeTypes = raw.snapshot.meta.node_types[0];
  const edgeTypes = raw.snapshot.meta.edge_types[0];
  const N = nf.length;
  const E = ef.length;
  const count = raw.nodes.length / N;
  const [iType, iName, iId, iSize, iEdges] = ['type', 'name', 'id', 'self_size', 'edge_count'].map((f) => nf.indexOf(f)) as [number, number, number, number, number];
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => ef.indexOf(f)) as [number, number, number];
  const heap: Heap = {
    count,
    type: new Array<string>(count),
    name: new Array<string>(count),
    id: new Float64Array(count),
    size: new Float64Array(count),
    firstEdge: new Uint32Array(count + 1),
    edgeTo: new Uint32Array(raw.edges.length / E),
    edgeType: new Array<string>(raw.edges.length / E),
    edgeName: new Array<string>(raw.edges.length / E),
  };
  let edge = 0;
  for (let n = 0; n < count; n++) {
    const o = n * N;
    heap.type[n] = nodeTypes[raw.nodes[o + iType]!]!;
    heap.name[n] = raw.strings[raw.nodes[o + iName]!]!;
    heap.id[n] = raw.nodes[o + iId]!;
    heap.size[n] = raw.nodes[o + iSize]!;
    heap.firstEdge[n] = edge;
    edge += raw.nodes[o + iEdges]!;
  }
  heap.firstEdge[count] = edge;
  for (let e = 0; e < heap.edgeTo.length; e++) {
    const o = e * E;
    const type = edgeTypes[raw.edges[o + eType]!]!;
    const nameOrIndex = raw.edges[o + eName]!;
    heap.edgeType[e] = type;
    heap.edgeName[e] = type === 'element' || type === 'hidden' ? `[${nameOrIndex}]` : raw.strings[nameOrIndex]!;
    heap.edgeTo[e] = raw.edges[o + eTo]! / N;
  }
  return heap;
}

/** How a node reads in a path: objects by constructor, the rest by kind (and a short name). */
export function label(h: Heap, n: number): string {
  const t = h.type[n]!;
  if (t === 'object' || t === 'native') return h.name[n]!;
  if (t === 'closure') return `(closure ${h.name[n] || 'anonymous'})`;
  if (t === 'string' || t === 'concatenated string' || t === 'sliced string') return '(string)';
  return `(${t}${h.name[n] && t !== 'number' && t !== 'code' ? ` ${h.name[n]!.slice(0, 30)}` : ''})`;
}

/**
 * Shortest retainer of every node from the root (node 0), over strong edges: BFS, as DevTools'
 * "distance". parentEdge[n] is the edge by which n was first reached (-1: unreachable or root).
 */
export function shortestRetainers(h: Heap): { parent: Int32Array; parentEdge: Int32Array } {
  const parent = new Int32Array(h.count).fill(-1);
  const parentEdge = new Int32Array(h.count).fill(-1);
  const seen = new Uint8Array(h.count);
  const queue = new Uint32Array(h.count);
  let head = 0;
  let tail = 0;
  queue[tail++] = 0;
  seen[0] = 1;
  while (head < tail) {
    const n = queue[head++]!;
    for (let e = h.firstEdge[n]!; e < h.firstEdge[n + 1]!; e++) {
      if (h.edgeType[e] === 'weak') continue;
      const to = h.edgeTo[e]!;
      if (seen[to]) continue;
      seen[to] = 1;
      parent[to] = n;
      parentEdge[to] = e;
      queue[tail++] = to;
    }
  }
  return { parent, parentEdge };
}

/** Element indices differ from holder to holder; a group is the same holder and edge kind. */
const edgeKey = (name: string) => (/^\[\d+\]$/.test(name) ? '[i]' : name);

export interface HolderGroup {
  /** The old holder, its edge to the first new object, and its own path to the roots. */
  key: string;
  holder: string;
  edge: string;
  pathToRoot: string;
  count: number;
  bytes: number;
  holders: Set<number>;
  /** What the group holds, by label. */
  byLabel: Map<string, { count: number; bytes: number }>;
  /** The paths from the holder down to each new object (edges and labels), counted. */
  downPaths: Map<string, { count: number; bytes: number }>;
}

export function groupNewByHolder(h: Heap, old: Set<number>, pathDepth = 10): HolderGroup[] {
  const { parent, parentEdge } = shortestRetainers(h);
  const groups = new Map<string, HolderGroup>();
  const pathOf = (n: number) => {
    const steps: string[] = [];
    for (let m = n, i = 0; m > 0 && parentEdge[m]! >= 0 && i < pathDepth; m = parent[m]!, i++) steps.push(`${label(h, parent[m]!)}.${edgeKey(h.edgeName[parentEdge[m]!]!)}`);
    return steps.reverse().join(' → ');
  };
  for (let n = 1; n < h.count; n++) {
    if (old.has(h.id[n]!) || parent[n] === -1) continue;
    // Up to the first object that existed at the first snapshot.
    let child = n;
    let up = parent[n]!;
    const down: string[] = [label(h, n)];
    while (up > 0 && !old.has(h.id[up]!) && parent[up]! >= 0) {
      down.push(`${label(h, up)}.${edgeKey(h.edgeName[parentEdge[child]!]!)}`);
      child = up;
      up = parent[up]!;
    }
    const edge = edgeKey(h.edgeName[parentEdge[child]!]!);
    const holder = up > 0 ? label(h, up) : '(GC roots)';
    const pathToRoot = up > 0 ? pathOf(up) : '';
    const key = `${pathToRoot} ⇒ ${holder}.${edge}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { key, holder, edge, pathToRoot, count: 0, bytes: 0, holders: new Set(), byLabel: new Map(), downPaths: new Map() }));
    g.count++;
    g.bytes += h.size[n]!;
    g.holders.add(up);
    const l = label(h, n);
    const row = g.byLabel.get(l) ?? { count: 0, bytes: 0 };
    row.count++;
    row.bytes += h.size[n]!;
    g.byLabel.set(l, row);
    const dp = down.slice(-12).reverse().join(' → ');
    const drow = g.downPaths.get(dp) ?? { count: 0, bytes: 0 };
    drow.count++;
    drow.bytes += h.size[n]!;
    g.downPaths.set(dp, drow);
  }
  return [...groups.values()].sort((a, b) => b.bytes - a.bytes);
}

async function main(argv: string[]): Promise<void> {
  const [before, after] = argv.filter((a, i) => !a.startsWith('--') && !['--top', '--detail'].includes(argv[i - 1] ?? ''));
  if (!before || !after) throw new Error('usage: heap-retainers.ts <before.heapsnapshot> <after.heapsnapshot> [--top N]');
  const top = Number(argv[argv.indexOf('--top') + 1]) || 15;
  // --detail <text>: for the groups whose holder's path or holder names it, the paths down to the new objects.
  const detail = argv.includes('--detail') ? argv[argv.indexOf('--detail') + 1] : undefined;
  const a = await loadHeap(before);
  const old = new Set(a.id);
  const b = await loadHeap(after);
  const groups = groupNewByHolder(b, old);
  const total = groups.reduce((s, g) => ({ count: s.count + g.count, bytes: s.bytes + g.bytes }), { count: 0, bytes: 0 });
  console.log(`new since the first snapshot and reachable: ${total.count} objects, ${(total.bytes / 1024).toFixed(0)} KB, under ${groups.length} holders`);
  for (const g of groups.slice(0, top)) {
    console.log(`\n${(g.bytes / 1024).toFixed(0).padStart(7)} KB ${String(g.count).padStart(7)} objects  held by ${g.holders.size} × ${g.holder} via .${g.edge}`);
    console.log(`    holder's path: ${g.pathToRoot || '(a root)'}`);
    const labels = [...g.byLabel].sort((x, y) => y[1].bytes - x[1].bytes).slice(0, 8);
    console.log(`    holds: ${labels.map(([l, r]) => `${l} ×${r.count} (${(r.bytes / 1024).toFixed(0)} KB)`).join(', ')}`);
    if (detail && g.key.includes(detail)) {
      for (const [p, r] of [...g.downPaths].sort((x, y) => y[1].count - x[1].count).slice(0, 25)) console.log(`      ×${String(r.count).padStart(5)} ${(r.bytes / 1024).toFixed(1).padStart(6)} KB  ${g.holder}.${g.edge} → ${p}`);
    }
  }
}

if (process.argv[1]?.endsWith('heap-retainers.ts')) await main(process.argv.slice(2));
