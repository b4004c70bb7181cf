/**
 * True if `work` fulfils within `ms`; false if it rejects or is still pending then. Never rejects,
 * and never waits longer than `ms`: for work whose outcome is only counted, or waited for with a bound
 * (a worker's attach task on close, a thread's exit on recovery).
 */
export async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work.then(() => true, () => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ms, false))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
