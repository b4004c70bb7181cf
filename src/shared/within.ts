/**
 * True if `work` fulfils within `ms`; false if it rejects or is still pending then. Never rejects,
 * and never waits longer than `ms`: for background work whose outcome is only counted.
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
