/** Exact percentiles of integer-millisecond samples (a histogram of 1 ms buckets). */
export class MsHistogram {
  private readonly buckets: Uint32Array;
  count = 0;
  max = 0;
  sum = 0;

  constructor(private readonly limitMs = 120_000) {
    this.buckets = new Uint32Array(limitMs + 1);
  }

  add(ms: number): void {
    const v = Math.max(0, Math.round(ms));
    this.buckets[Math.min(v, this.limitMs)]!++;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  /** Nearest-rank quantile; NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i]!;
      if (seen >= rank) return i;
    }
    return this.limitMs;
  }

  get mean(): number {
    return this.count === 0 ? Number.NaN : this.sum / this.count;
  }
}

/** Nearest-rank quantile of fractional samples. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * What one tab received of one service: per seq, how many times. `holes`
 * are seqs in 1..expected never received, `duplicates` receipts beyond the
 * first, `stray` seqs outside 1..expected.
 */
export class SeqRecord {
  private counts: number[] = [];
  received = 0;
  /** Distinct seqs received so far. */
  distinct = 0;

  add(seq: number): void {
    const n = this.counts[seq] ?? 0;
    if (n === 0) this.distinct++;
    this.counts[seq] = n + 1;
    this.received++;
  }

  has(seq: number): boolean {
    return (this.counts[seq] ?? 0) > 0;
  }

  check(expected: number): { holes: number; duplicates: number; stray: number; distinct: number } {
    let holes = 0;
    let duplicates = 0;
    let stray = 0;
    let distinct = 0;
    for (let seq = 1; seq <= expected; seq++) {
      const n = this.counts[seq] ?? 0;
      if (n === 0) holes++;
      else {
        distinct++;
        duplicates += n - 1;
      }
    }
    for (let seq = 0; seq < this.counts.length; seq++) {
      if ((seq === 0 || seq > expected) && (this.counts[seq] ?? 0) > 0) stray += this.counts[seq]!;
    }
    return { holes, duplicates, stray, distinct };
  }
}

export const fmtInt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
export const fmtMs = (n: number) =>
  Number.isFinite(n) ? `${Math.round(n).toLocaleString('en-US')} ms` : '—';
export const fmtMs1 = (n: number) => (Number.isFinite(n) ? `${n.toFixed(1)} ms` : '—');
export const fmtKB = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
export const fmtMB = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`;
