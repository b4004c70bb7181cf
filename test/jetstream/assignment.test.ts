import { describe, expect, it } from 'vitest';
import { assignPartitions } from '../../src/main/jetstream/assignment.ts';
import { parsePartitionList } from '../../src/main/service/config.ts';

const members = (n: number) => Array.from({ length: n }, (_, i) => `instance-${i}`);

function counts(assignment: Map<number, string>): number[] {
  const byMember = new Map<string, number>();
  for (const owner of assignment.values()) byMember.set(owner, (byMember.get(owner) ?? 0) + 1);
  return [...byMember.values()].sort((a, b) => a - b);
}

describe('assignPartitions', () => {
  it('gives every partition exactly one owner, floor(P/n) or ceil(P/n) each', () => {
    for (const partitions of [1, 7, 16, 64]) {
      for (let n = 1; n <= 6; n++) {
        const assignment = assignPartitions(partitions, members(n));
        expect(assignment.size).toBe(partitions);
        const each = counts(assignment);
        expect(each[0]).toBeGreaterThanOrEqual(Math.floor(partitions / n));
        expect(each.at(-1)).toBeLessThanOrEqual(Math.ceil(partitions / n));
      }
    }
  });

  it('is the same whatever order the members are listed in, so instances agree without talking', () => {
    const forward = assignPartitions(16, ['c', 'a', 'b']);
    const backward = assignPartitions(16, ['b', 'c', 'a', 'a']);
    expect([...backward]).toEqual([...forward]);
  });

  it('moves few partitions when an instance joins or leaves', () => {
    const before = assignPartitions(64, members(3));
    const after = assignPartitions(64, members(4));
    let moved = 0;
    for (const [p, owner] of before) if (after.get(p) !== owner) moved++;
    // The newcomer must get 16; a round-robin reshuffle would move about 48.
    expect(moved).toBeLessThanOrEqual(24);
  });

  it('leaves the survivors nearly all of their partitions when an instance dies', () => {
    let worst = 0;
    for (let trial = 0; trial < 200; trial++) {
      const trio = [`host-${trial}-a`, `host-${trial}-b`, `host-${trial}-c`];
      const before = assignPartitions(16, trio);
      const after = assignPartitions(16, trio.slice(0, 2));
      let moved = 0;
      for (const [p, owner] of before) if (owner !== trio[2] && after.get(p) !== owner) moved++;
      worst = Math.max(worst, moved);
    }
    // Each handover of a survivor's partition pauses it; the dead one's 5 or 6 must move anyway.
    expect(worst).toBeLessThanOrEqual(3);
  });

  it('assigns nothing without members', () => {
    expect(assignPartitions(16, []).size).toBe(0);
  });
});

describe('parsePartitionList (--partitions)', () => {
  it('reads single partitions and ranges', () => {
    expect(parsePartitionList('0-3,8,10-11', 16)).toEqual([0, 1, 2, 3, 8, 10, 11]);
    expect(parsePartitionList('5,5,4', 16)).toEqual([4, 5]);
  });

  it('names what is wrong', () => {
    expect(parsePartitionList('0-16', 16)).toMatch(/partition 16 is out of range 0-15/);
    expect(parsePartitionList('7-3', 16)).toMatch(/runs backwards/);
    expect(parsePartitionList('a', 16)).toMatch(/is not N or N-M/);
  });
});
