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

/** What the seed 002 targets need to be judged: the scale and the measured figures. */
export interface Seed002Figures {
  catchUpRounds: number;
  catchUpRoundsPlanned: number;
  /** Per completed round, ms from the socket that got the replay to the last replayed event. */
  catchUpMs: readonly number[];
  catchUpHoles: number;
  catchUpDuplicates: number;
  broadcastSubscribers: number;
  broadcastConnected: number;
  broadcastMessages: number;
  broadcastDeliveries: number;
  broadcastP95: number;
  broadcastHoles: number;
  broadcastDuplicates: number;
}

/** Seed 002: catch-up of 120 events p95 < 1.5 s; broadcast p95 < 600 ms with 200 subscribers × 10,000 messages. */
export const SEED002 = {
  catchUpEvents: 120,
  catchUpP95Ms: 1500,
  broadcastSubscribers: 200,
  broadcastMessages: 10_000,
  broadcastP95Ms: 600,
} as const;

/**
 * The seed 002 verdicts. A latency target passes only at the scale
 * (every round complete; at least 200 subscribers, all connected, and at least
 * 10,000 messages, every one delivered to every subscriber): a smaller or
 * incomplete run says nothing about the target. Returns each verdict and the
 * failures (empty when all pass).
 */
export function seed002Verdicts(f: Seed002Figures): {
  catchUp: boolean;
  catchUpClean: boolean;
  broadcast: boolean;
  broadcastClean: boolean;
  failures: string[];
} {
  const catchUpP95 = quantile(f.catchUpMs, 0.95);
  const catchUp =
    f.catchUpRoundsPlanned > 0 &&
    f.catchUpRounds === f.catchUpRoundsPlanned &&
    f.catchUpMs.length === f.catchUpRounds &&
    catchUpP95 < SEED002.catchUpP95Ms;
  const catchUpClean = f.catchUpHoles === 0 && f.catchUpDuplicates === 0;
  const atScale =
    f.broadcastSubscribers >= SEED002.broadcastSubscribers &&
    f.broadcastConnected === f.broadcastSubscribers &&
    f.broadcastMessages >= SEED002.broadcastMessages &&
    f.broadcastDeliveries === f.broadcastSubscribers * f.broadcastMessages;
  const broadcast = atScale && f.broadcastP95 < SEED002.broadcastP95Ms;
  const broadcastClean = f.broadcastHoles === 0 && f.broadcastDuplicates === 0;
  const failures: string[] = [];
  if (!catchUp)
    failures.push(
      `catch-up: p95 ${fmtMs(catchUpP95)} over ${f.catchUpRounds} of ${f.catchUpRoundsPlanned} rounds, target p95 < ${fmtMs(SEED002.catchUpP95Ms)} over every round`,
    );
  if (!catchUpClean) failures.push(`catch-up: ${f.catchUpHoles} dropped, ${f.catchUpDuplicates} duplicated`);
  if (!broadcast)
    failures.push(
      `broadcast: p95 ${fmtMs(f.broadcastP95)} with ${f.broadcastConnected} of ${f.broadcastSubscribers} subscribers connected, ${f.broadcastMessages} messages, ${f.broadcastDeliveries} deliveries; target p95 < ${fmtMs(SEED002.broadcastP95Ms)} with ${SEED002.broadcastSubscribers} subscribers × ${SEED002.broadcastMessages} messages, all delivered`,
    );
  if (!broadcastClean)
    failures.push(`broadcast: ${f.broadcastHoles} dropped, ${f.broadcastDuplicates} duplicated`);
  return { catchUp, catchUpClean, broadcast, broadcastClean, failures };
}
