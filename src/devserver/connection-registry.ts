import type { Connection, TransportName } from './connection';

/** `Origin` key of a connection that sent no `Origin` header. */
export const NO_ORIGIN = 'none';

/**
 * The live connections, indexed the ways the server looks them up: by id
 * (update-services, long-poll), by org (fan-out of a flush) and by origin
 * (quota).
 */
export class ConnectionRegistry {
  private readonly byId = new Map<string, Connection>();
  private readonly byOrg = new Map<string, Set<Connection>>();
  private readonly perOrigin = new Map<string, number>();

  get size(): number {
    return this.byId.size;
  }

  add(connection: Connection): void {
    this.byId.set(connection.id, connection);
    let org = this.byOrg.get(connection.orgId);
    if (!org) {
      org = new Set();
      this.byOrg.set(connection.orgId, org);
    }
    org.add(connection);
    const origin = connection.origin ?? NO_ORIGIN;
    this.perOrigin.set(origin, (this.perOrigin.get(origin) ?? 0) + 1);
  }

  /** Removes a connection; false when it was not (or no longer) registered. */
  remove(connection: Connection): boolean {
    if (this.byId.get(connection.id) !== connection) return false;
    this.byId.delete(connection.id);
    const org = this.byOrg.get(connection.orgId);
    org?.delete(connection);
    if (org?.size === 0) this.byOrg.delete(connection.orgId);
    const origin = connection.origin ?? NO_ORIGIN;
    const left = (this.perOrigin.get(origin) ?? 1) - 1;
    if (left > 0) this.perOrigin.set(origin, left);
    else this.perOrigin.delete(origin);
    return true;
  }

  get(id: string): Connection | undefined {
    return this.byId.get(id);
  }

  /** A snapshot: safe to iterate while connections are removed. */
  all(): Connection[] {
    return [...this.byId.values()];
  }

  /** A snapshot of one org's connections. */
  ofOrg(orgId: string): Connection[] {
    const org = this.byOrg.get(orgId);
    return org ? [...org] : [];
  }

  countForOrigin(origin: string | undefined): number {
    return this.perOrigin.get(origin ?? NO_ORIGIN) ?? 0;
  }

  countByTransport(): Record<TransportName, number> {
    const counts: Record<TransportName, number> = { websocket: 0, sse: 0, 'long-poll': 0 };
    for (const connection of this.byId.values()) counts[connection.transport]++;
    return counts;
  }
}
