/**
 * What an intent costs the processes of a throughput run, read from Linux's /proc: CPU time of each
 * process (every thread), of an instance's main thread alone, and its write syscalls. Elsewhere
 * (no /proc) every reading is undefined and the figures leave the columns out.
 */
import { existsSync, readFileSync } from 'node:fs';

/** CPU seconds (user + system) of a process, or of one of its threads. */
function cpuSeconds(statPath: string): number {
  // Fields after the command name (which may hold spaces and parentheses): utime and stime are 12th and 13th.
  const stat = readFileSync(statPath, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export interface ProcessReading {
  cpuS: number;
  mainThreadCpuS: number;
  writeSyscalls: number;
}

/** The counters of process `pid` now; undefined without /proc or once the process is gone. */
export function readProcess(pid: number): ProcessReading | undefined {
  if (!existsSync(`/proc/${pid}/stat`)) return undefined;
  try {
    return {
      cpuS: cpuSeconds(`/proc/${pid}/stat`),
      mainThreadCpuS: cpuSeconds(`/proc/${pid}/task/${pid}/stat`),
      writeSyscalls: Number(/syscw: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1]),
    };
  } catch {
    return undefined;
  }
}

/** Per intent between two readings of the same processes (summed): µs of CPU, µs on main threads, write syscalls. */
export function perIntent(before: (ProcessReading | undefined)[], after: (ProcessReading | undefined)[], intents: number): { cpuUs: number; mainThreadUs: number; writes: number } | undefined {
  let cpu = 0;
  let main = 0;
  let writes = 0;
  for (let i = 0; i < before.length; i++) {
    const [b, a] = [before[i], after[i]];
    if (b === undefined || a === undefined) return undefined;
    cpu += a.cpuS - b.cpuS;
    main += a.mainThreadCpuS - b.mainThreadCpuS;
    writes += a.writeSyscalls - b.writeSyscalls;
  }
  return { cpuUs: Math.round((cpu * 1e6) / intents), mainThreadUs: Math.round((main * 1e6) / intents), writes: +(writes / intents).toFixed(2) };
}
