/** Version of the cross-tab message format; part of every channel name. */
export const CHANNEL_VERSION = 1;

/** Whose events a channel carries: tabs of another org or user must never share it. */
export interface ChannelScope {
  readonly orgId: string;
  readonly userId: string;
}

/**
 * The BroadcastChannel (and storage-fallback key prefix) name shared by the
 * tabs of one app, org and user: `tabwire:v1:<appKey>:<orgId>:<userId>`.
 *
 * Each part is escaped with `encodeURIComponent`, which escapes `:`, so the
 * separators cannot be forged: `a:b` + `c` and `a` + `b:c` give different
 * names, and a user id can never reach into another org's channel. The
 * version is in the name so tabs running an older bundle (during a deploy)
 * never receive messages of a format they do not know.
 *
 * The parts are the client's `appKey` (non-empty) and `scope`, which
 * options.ts has checked already.
 */
export function channelName(appKey: string, scope: ChannelScope): string {
  return `tabwire:v${CHANNEL_VERSION}:${[appKey, scope.orgId, scope.userId].map(encodeURIComponent).join(':')}`;
}
