import { readdirSync, readFileSync } from 'node:fs';

/** Sum of resident memory of this test's Chromium processes (Linux /proc), or undefined elsewhere. */
export function browserRss(): number | undefined {
  try {
    const parent = new Map<number, number>();
    const rss = new Map<number, number>();
    const name = new Map<number, string>();
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        const close = stat.lastIndexOf(')');
        const fields = stat.slice(close + 2).split(' ');
        parent.set(Number(d), Number(fields[1]));
        name.set(Number(d), stat.slice(stat.indexOf('(') + 1, close));
        rss.set(Number(d), Number(fields[21]) * 4096);
      } catch {
        // The process ended while being read.
      }
    }
    const mine = (pid: number): boolean => {
      for (let p = pid, hops = 0; p > 1 && hops < 64; p = parent.get(p) ?? 0, hops++) if (p === process.pid) return true;
      return false;
    };
    let total = 0;
    for (const [pid, n] of name) if (/chrom/i.test(n) && mine(pid)) total += rss.get(pid) ?? 0;
    return total;
  } catch {
    return undefined;
  }
}
