/**
 * What grows between two V8 heap snapshots: objects counted by constructor (closures, arrays,
 * strings and other non-objects by kind), and the rows that grew most. Enough to name a leak's
 * shape (AudioFrame, Promise, PromiseReaction, ...); the retaining path is for DevTools.
 */
import { readFile } from 'node:fs/promises';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export type HeapCounts = Map<string, { count: number; bytes: number }>;

export async function countHeap(path: string): Promise<HeapCounts> {
  const snap = JSON.parse(await readFile(path, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [iType, iName, iSize] = [fields.indexOf('type'), fields.indexOf('name'), fields.indexOf('self_size')];
  const counts: HeapCounts = new Map();
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    const type = types[snap.nodes[i + iType]!]!;
    // Objects by constructor; everything else (closure, array, string, code, ...) by its kind.
    const key = type === 'object' || type === 'native' ? snap.strings[snap.nodes[i + iName]!]! : `(${type})`;
    const row = counts.get(key) ?? { count: 0, bytes: 0 };
    row.count++;
    row.bytes += snap.nodes[i + iSize]!;
    counts.set(key, row);
  }
  return counts;
}

/**
 * The rows that grew most from `before` to `after`: the `top` by count, then any of the `top` by
 * bytes not already listed (a few large objects matter as much as many small ones).
 */
export function heapGrowth(before: HeapCounts, after: HeapCounts, top = 12): { name: string; count: number; bytes: number }[] {
  const rows = [...after].map(([name, a]) => {
    const b = before.get(name) ?? { count: 0, bytes: 0 };
    return { name, count: a.count - b.count, bytes: a.bytes - b.bytes };
  });
  const byCount = [...rows].sort((x, y) => y.count - x.count).slice(0, top);
  const byBytes = [...rows].sort((x, y) => y.bytes - x.bytes).slice(0, top);
  return [...byCount, ...byBytes.filter((r) => !byCount.includes(r))];
}
