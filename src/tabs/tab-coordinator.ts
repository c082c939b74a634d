import type { Clock } from '../clock';
import type { Cursor } from '../protocol/schemas';
import type { ChannelMessage, FlagsMessage, OutgoingChannelMessage, StateMessage } from './channel-messages';
import { channelName } from './channel-name';
import {
  type ElectionStrategy,
  LeaderElection,
  type LockManagerLike,
  type StorageLike,
} from './leader-election';
import { type BroadcastChannelConstructor, TabChannel } from './tab-channel';

/** What one tab wants from the shared connection. */
export interface TabNeeds {
  services: string[];
  propertyFilter: string | null;
}

/** How the coordinator reaches the client it serves. */
export interface CoordinatorHost {
  ownNeeds(): TabNeeds;
  /** The union of every tab's needs changed. */
  needsChanged(): void;
  /** This tab won (`true`) or lost (`false`) the election. */
  leadershipChanged(isLeader: boolean, leaderTabId: string | undefined): void;
  /** A server frame relayed by the leader (followers only). */
  relayedFrame(frame: string | Record<string, unknown>): void;
  leaderState(state: StateMessage): void;
  /** `direct`: the leader's answer to this tab's hello (its view, not a change someone made). */
  flags(flags: FlagsMessage['flags'], direct: boolean): void;
  /** The leader's cursor: `direct` for a tab that just joined, else the start of services just added. */
  cursor(cursor: Cursor, direct: boolean): void;
  /** A follower asks the leader to have the server replay from this cursor. */
  replay(cursor: Cursor): void;
  /** A new tab appeared: the leader answers with what it knows. */
  peerJoined(tabId: string): void;
  invalidMessage(reason: string): void;
}

/** Options of {@link TabCoordinator}. */
export interface TabCoordinatorOptions {
  appKey: string;
  scope: { orgId: string; userId: string };
  tabId: string;
  strategy: 'auto' | ElectionStrategy;
  takeoverMs: number;
  clock: Clock;
  host: CoordinatorHost;
  locks?: LockManagerLike;
  storage?: StorageLike;
  BroadcastChannel?: BroadcastChannelConstructor | null;
  /** Longest relayed message; must exceed the longest frame accepted. */
  maxMessageChars?: number;
  window?: Pick<EventTarget, 'addEventListener' | 'removeEventListener'>;
}

/** Tabs repeat their needs this often, so a crashed tab's needs can expire. */
export const NEEDS_REFRESH_MS = 10_000;
/** A peer not heard of for this long is taken for gone (it crashed without `bye`). */
export const PEER_EXPIRY_MS = 35_000;

interface Peer extends TabNeeds {
  seenAt: number;
}

/**
 * One tab's part in sharing the browser's connection: it joins the
 * election, keeps every tab's needs (so any tab can become leader and
 * subscribe to the union at once), and carries relay, state, flag and
 * cursor messages between the tabs. It decides nothing about the connection
 * itself; the client does, told through {@link CoordinatorHost}.
 */
export class TabCoordinator {
  readonly strategy: ElectionStrategy;
  readonly #options: TabCoordinatorOptions;
  /** `channelName(appKey, scope)`: the channel's name and the prefix of the election's. */
  readonly #channelName: string;
  readonly #peers = new Map<string, Peer>();
  readonly #election: LeaderElection;
  #channel: TabChannel | undefined;
  #refreshTimer: unknown;
  #running = false;

  constructor(options: TabCoordinatorOptions) {
    this.#options = options;
    this.#channelName = channelName(options.appKey, options.scope);
    this.#election = new LeaderElection({
      ...options,
      name: `${this.#channelName}:leader`,
      // The storage lease beats through the channel: other tabs hear the
      // leader's announcements (#onMessage), so a live leader whose lease
      // writes are slow is not replaced.
      beat: () => this.#announceLeader(),
    });
    this.#election.onChange(({ isLeader, leaderTabId }) => {
      // Stopped: the host hears nothing more, not even the final step-down.
      if (!this.#running) return;
      if (isLeader) this.#announceLeader();
      options.host.leadershipChanged(isLeader, leaderTabId);
    });
    this.strategy = this.#election.strategy;
  }

  get isLeader(): boolean {
    return this.#election.isLeader;
  }

  /** How many times this tab became leader. */
  get electionsWon(): number {
    return this.#election.electionsWon;
  }

  /** Number of other tabs whose needs are known. */
  get peerCount(): number {
    return this.#peers.size;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    const { host } = this.#options;
    this.#channel = new TabChannel({
      ...this.#options,
      name: this.#channelName,
      onInvalid: (reason) => host.invalidMessage(reason),
    });
    this.#channel.onMessage((message) => this.#onMessage(message));
    this.post({ type: 'hello' });
    this.announceNeeds();
    this.#scheduleRefresh();
    this.#election.start();
  }

  /** Leaves the election (releasing the lock or lease at once) and says goodbye. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#options.clock.clearTimeout(this.#refreshTimer);
    this.post({ type: 'bye' });
    // Closing the channel also drops our message listener.
    this.#channel?.close();
    this.#channel = undefined;
    this.#peers.clear();
    await this.#election.stop();
  }

  /** Every tab's needs together: what the leader subscribes to. */
  union(): { services: string[]; propertyIds: string[] | null } {
    this.#expirePeers();
    const services = new Set<string>();
    const filters = new Set<string>();
    let all = false;
    for (const needs of [this.#options.host.ownNeeds(), ...this.#peers.values()]) {
      if (needs.services.length === 0) continue; // an idle tab wants nothing, not everything
      for (const service of needs.services) services.add(service);
      if (needs.propertyFilter === null) all = true;
      else filters.add(needs.propertyFilter);
    }
    return { services: [...services].sort(), propertyIds: all ? null : [...filters].sort() };
  }

  announceNeeds(): void {
    const { services, propertyFilter } = this.#options.host.ownNeeds();
    this.post({ type: 'needs', services, propertyFilter });
  }

  /** Leader: relays one validated server frame to the other tabs. */
  relay(frame: object): void {
    this.post({ type: 'frame', frame: frame as Record<string, unknown> });
  }

  post(message: OutgoingChannelMessage): void {
    this.#channel?.post(message);
  }

  /** Tells the other tabs that this tab leads. */
  #announceLeader(): void {
    this.post({ type: 'leader', leaderTabId: this.#options.tabId });
  }

  #onMessage(message: ChannelMessage): void {
    const { host } = this.#options;
    switch (message.type) {
      case 'hello':
        this.announceNeeds();
        host.peerJoined(message.from);
        return;
      case 'needs':
        this.#peers.set(message.from, { ...message, seenAt: this.#options.clock.now() });
        host.needsChanged();
        return;
      case 'bye':
        if (this.#peers.delete(message.from)) host.needsChanged();
        return;
      case 'leader':
        this.#election.heardLeader(message.leaderTabId);
        return;
      case 'frame':
        if (!this.isLeader) host.relayedFrame(message.frame);
        return;
      case 'state':
        if (!this.isLeader) host.leaderState(message);
        return;
      case 'flags':
        host.flags(message.flags, message.to !== undefined);
        return;
      case 'cursor':
        if (!this.isLeader) host.cursor(message.cursor, message.to !== undefined);
        return;
      case 'replay':
        if (this.isLeader) host.replay(message.cursor);
        return;
    }
  }

  #scheduleRefresh(): void {
    this.#refreshTimer = this.#options.clock.setTimeout(() => {
      if (!this.#running) return;
      this.announceNeeds();
      if (this.#expirePeers()) this.#options.host.needsChanged();
      this.#scheduleRefresh();
    }, NEEDS_REFRESH_MS);
  }

  /** Drops peers unheard of for too long; true when any went. */
  #expirePeers(): boolean {
    const now = this.#options.clock.now();
    let changed = false;
    for (const [tabId, peer] of this.#peers) {
      if (now - peer.seenAt > PEER_EXPIRY_MS) {
        this.#peers.delete(tabId);
        changed = true;
      }
    }
    return changed;
  }
}
