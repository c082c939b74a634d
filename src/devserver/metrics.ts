import type { Connection } from './connection';
import type { DevServerMetrics } from './types';

/** Counters the server bumps as things happen; `GET /metrics` reads them. */
export class MetricsCounters {
  totalConnections = 0;
  requestsTotal = 0;
  publishedTotal = 0;
  pollWaiters = 0;
  invalidClientFrames = 0;
  overloadedRejections = 0;
  quarantinesTotal = 0;
  slowConsumerDrops = 0;
  lastCatchUp: DevServerMetrics['lastCatchUp'];
}

/** Per-service subscriber counts of the live connections. */
export function summariseSubscriptions(connections: readonly Connection[]): {
  totalSubscribers: number;
  subscribersByService: Record<string, number>;
  quarantinedConnections: number;
} {
  const subscribersByService: Record<string, number> = {};
  let totalSubscribers = 0;
  let quarantinedConnections = 0;
  for (const connection of connections) {
    if (connection.quarantine?.quarantined) quarantinedConnections++;
    for (const service of connection.services) {
      totalSubscribers++;
      subscribersByService[service] = (subscribersByService[service] ?? 0) + 1;
    }
  }
  return { totalSubscribers, subscribersByService, quarantinedConnections };
}

/**
 * Batch windows by org and, for `currentBatchWindowMsByService`, by
 * service alone: the widest window of that service over all orgs,
 * the one that says whether some org is under a spike.
 */
export function summariseBatchWindows(
  windows: Iterable<{ orgId: string; service: string; windowMs: number }>,
): {
  currentBatchWindowMsByService: Record<string, number>;
  batchWindowMsByOrg: Record<string, Record<string, number>>;
} {
  const currentBatchWindowMsByService: Record<string, number> = {};
  // Org ids come from clients (`dev:<orgId>:…` tokens, `POST /dev/publish`),
  // so `__proto__` or `constructor` must not index a plain object: gather in
  // a Map, and let Object.fromEntries make own properties of them.
  const byOrg = new Map<string, Record<string, number>>();
  for (const { orgId, service, windowMs } of windows) {
    currentBatchWindowMsByService[service] = Math.max(currentBatchWindowMsByService[service] ?? 0, windowMs);
    let org = byOrg.get(orgId);
    if (!org) {
      org = {};
      byOrg.set(orgId, org);
    }
    org[service] = windowMs;
  }
  return { currentBatchWindowMsByService, batchWindowMsByOrg: Object.fromEntries(byOrg) };
}
