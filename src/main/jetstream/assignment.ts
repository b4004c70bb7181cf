/**
 * Which live instance should own each partition. Every instance computes this from the same sorted
 * member list, so they agree without talking; leases (leases.ts) make the handover safe even while
 * their views briefly differ.
 *
 * Rendezvous hashing ranks the members for each partition, and a quota keeps the split even: each
 * member owns floor(P/n) or ceil(P/n) partitions. A member joining or leaving moves few partitions,
 * because most keep their top-ranked member.
 */
import { fnv1a32 } from '../routing.ts';

/** partition -> member, for partitions 0..partitions-1. Empty members give an empty map. */
export function assignPartitions(partitions: number, members: readonly string[]): Map<number, string> {
  const owners = new Map<number, string>();
  const sorted = [...new Set(members)].sort();
  if (sorted.length === 0) return owners;
  const base = Math.floor(partitions / sorted.length);
  let extra = partitions % sorted.length;
  // Best pairs first across all partitions: a partition keeps its top-ranked member unless that
  // member is already full, so a member leaving moves little beyond its own partitions.
  const pairs: { p: number; member: string; score: number }[] = [];
  for (let p = 0; p < partitions; p++) {
    for (const member of sorted) pairs.push({ p, member, score: fnv1a32(`${member}/${p}`) });
  }
  pairs.sort((a, b) => b.score - a.score || a.p - b.p || (a.member < b.member ? -1 : 1));
  const load = new Map(sorted.map((member) => [member, 0]));
  for (const { p, member } of pairs) {
    if (owners.has(p)) continue;
    const held = load.get(member)!;
    if (held < base || (held === base && extra > 0)) {
      if (held === base) extra--;
      load.set(member, held + 1);
      owners.set(p, member);
    }
  }
  return owners;
}
