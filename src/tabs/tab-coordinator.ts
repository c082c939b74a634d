import type { Clock } from '../clock';
import { Timer } from '../connection/timer';
import type {
  ChannelMessage,
  CursorMessage,
  FlagsMessage,
  FrameMessage,
  OutgoingChannelMessage,
  ReplayMessage,
  StateMessage,
  SyncMessage,
} from './channel-messages';
import { channelName } from './channel-name';
import {
  type ElectionStrategy,
  LeaderElection,
  type LockManagerLike,
  type StorageLike,
} from './leader-election';
import { type BroadcastChannelConstructor, TabChannel, type TabChannelOptions } from './tab-channel';

/** What one tab wants from the shared connection. */
export interface TabNeeds {
  services: string[];
  propertyFilter: string | null;
}

/** How the coordinator reaches the client it serves. */
export interface CoordinatorHost {
  /** This tab's state, whose `services` and `propertyFilter` are its needs. */
  getState(): TabNeeds;
  /** The union of every tab's needs changed. */
  needsChanged(): void;
  /** This tab won (`true`) or lost (`false`) the election. */
  leadershipChanged(isLeader: boolean, leaderTabId: string | undefined): void;
  /** A server frame relayed by the leader (followers only); with a `reset`, the id of its epoch. */
  frame(message: FrameMessage): void;
  /** The leader's connection state (followers only). */
  state(message: StateMessage): void;
  /** Flags another tab set; `to`: the leader's answer to this tab's hello (its view, not a change someone made). */
  flags(message: FlagsMessage): void;
  /**
   * The leader's cursor (followers only): `to` for a tab that just joined,
   * with the ids of the epochs of its services; else the start of services
   * just added.
   */
  cursor(message: CursorMessage): void;
  /** A follower asks the leader (this tab) to have the server replay from this cursor. */
  replay(message: ReplayMessage): void;
  /** A new tab appeared (this tab leads): it answers with what it knows (the coordinator said who leads). */
  peerJoined(tabId: string): void;
  /** A follower asks for the leader's (this tab's) cursor. */
  sync(message: Pick<SyncMessage, 'from'>): void;
  /** A tab message was refused (see `TabChannelOptions.onInvalid`); called without `this`. */
  invalidMessage: (reason: string) => void;
}

/** Options of {@link TabCoordinator}. */
export interface TabCoordinatorOptions {
  appKey: string;
  scope: { orgId: string; userId: string };
  tabId: string;
  strategy: ElectionStrategy;
  takeoverMs: number;
  clock: Clock;
  host: CoordinatorHost;
  locks?: LockManagerLike;
  storage?: StorageLike;
  BroadcastChannel?: BroadcastChannelConstructor | null;
  /** Longest relayed message; must exceed the longest frame accepted. */
  maxMessageChars: number;
  window?: Pick<EventTarget, 'addEventListener' | 'removeEventListener'>;
}

/** Tabs repeat their needs this often, so a crashed tab's needs can expire. */
export const NEEDS_REFRESH_MS = 10_000;
/**
 * A peer not heard of for this long is taken for gone (it crashed without
 * `bye`). A hidden tab's refresh runs when the browser lets its timers run:
 * once a minute in Chrome after 5 minutes hidden. At 35 s a live hidden tab
 * was dropped for part of every minute, and with it the services and filter
 * only it (or, in the other tabs' pipelines, a hidden leader) wanted: their
 * events stopped reaching it. This outlasts two such minutes; a crashed
 * tab's needs only cost some traffic meanwhile.
 */
export const PEER_EXPIRY_MS = 150_000;

interface Peer extends TabNeeds {
  seenAt: number;
}

/**
 * One tab's part in sharing the browser's connection: it is this tab's
 * {@link LeaderElection} (so `isLeader`, `electionsWon` and `strategy` are
 * the election's own), keeps every tab's needs (so any tab can become leader
 * and subscribe to the union at once), and carries relay, state, flag and
 * cursor messages between the tabs. It decides nothing about the connection
 * itself; the client does, told through {@link CoordinatorHost}.
 */
export class TabCoordinator extends LeaderElection {
  /** Ours, with the channel's name: also the options of every TabChannel this tab opens (one per start). */
  readonly #options: TabCoordinatorOptions & TabChannelOptions;
  readonly #peers = new Map<string, Peer>();
  /**
   * Tabs whose hello this tab heard since a leader last spoke (a leader
   * answers a hello with its announcement first), until their bye (a tab
   * that starts again says bye first). Heard while none led (between a
   * leader's end and the next one's win, up to takeoverMs with a crashed
   * leader's lease), this tab answers them if it wins: else such a tab never
   * got the cursor and its epochs, nor the flags (back from idle through a
   * reset, it took the new epoch's events for duplicates). Heard as leader,
   * answered, and not again: a tab that heard our hello as we heard its own
   * says it again (#asking), and answered twice, a flags answer older than a
   * setFlags it made after the first lifted it there.
   */
  readonly #heardHellos = new Set<string>();
  /**
   * Set by our hello, cleared once a leader speaks: one that heard the hello
   * answers it along with saying it leads. (Undefined before the first start.)
   */
  #asking: boolean | undefined;
  /** Open while started: it doubles as the "running" flag. */
  #channel: TabChannel | undefined;
  readonly #refreshTimer: Timer;

  constructor(options: TabCoordinatorOptions) {
    const host = options.host;
    // The channel's name is also the prefix of the election's.
    const name = channelName(options.appKey, options.scope);
    super({
      ...options,
      name: `${name}:leader`,
      // The storage lease beats through the channel: other tabs hear the
      // leader's announcements (#onMessage), so a live leader whose lease
      // writes are slow is not replaced.
      beat: () => this.#announceLeader(),
      onChange: ({ isLeader, leaderTabId }) => {
        // Stopped: the host hears nothing more, not even the final step-down.
        if (!this.#channel) return;
        if (isLeader) this.#announceLeader();
        host.leadershipChanged(isLeader, leaderTabId);
        // After: the answer carries the state of a leader.
        if (isLeader) for (const tabId of this.#heardHellos) host.peerJoined(tabId);
      },
    });
    this.#refreshTimer = new Timer(options.clock);
    this.#options = {
      ...options,
      name,
      onMessage: (message) => this.#onMessage(message),
      onInvalid: host.invalidMessage,
    };
  }

  /** The other tabs whose needs are known, by tab id. */
  peerIds(): string[] {
    return [...this.#peers.keys()];
  }

  override start(): void {
    if (this.#channel) return;
    this.#channel = new TabChannel(this.#options);
    this.#asking = true;
    this.post({ type: 'hello' });
    this.announceNeeds();
    this.#scheduleRefresh();
    super.start();
  }

  /** Leaves the election (releasing the lock or lease at once) and says goodbye. */
  override stop(): Promise<void> {
    const channel = this.#channel;
    if (channel) {
      this.#channel = undefined;
      this.#refreshTimer.clear();
      channel.post({ type: 'bye' });
      // A closed channel tells us nothing more.
      channel.close();
      this.#peers.clear();
      this.#heardHellos.clear();
    }
    // Stopped already, the election's stop() does nothing but settle.
    return super.stop();
  }

  /** Every tab's needs together: what the leader subscribes to. */
  union(): { services: string[]; propertyIds: string[] | null } {
    // Dead peers are dropped by the refresh alone, which tells the host (the
    // peer count): dropped here first, they were never told.
    // An idle tab wants nothing, not everything.
    const wanting = [this.#options.host.getState(), ...this.#peers.values()].filter(
      (needs) => needs.services.length,
    );
    const filters = new Set(wanting.map((needs) => needs.propertyFilter));
    return {
      services: [...new Set(wanting.flatMap((needs) => needs.services))].sort(),
      // `null` (every property) in any tab wins; otherwise every filter is a string.
      propertyIds: filters.has(null) ? null : ([...filters] as string[]).sort(),
    };
  }

  announceNeeds(): void {
    const { services, propertyFilter } = this.#options.host.getState();
    this.post({ type: 'needs', services, propertyFilter });
  }

  post(message: OutgoingChannelMessage): void {
    this.#channel?.post(message);
  }

  /** Tells the other tabs that this tab leads. */
  #announceLeader(): void {
    this.post({ type: 'leader', leaderTabId: this.#options.tabId });
  }

  #onMessage(message: ChannelMessage): void {
    const host = this.#options.host;
    const type = message.type;
    // `to` is a tab id when present, never empty: `!!to` means a direct answer.
    if (type === 'hello') {
      this.announceNeeds();
      // A newcomer hears who leads first, then (from the host) the leader's
      // cursor, flags and state.
      if (this.isLeader && !this.#heardHellos.has(message.from)) {
        this.#announceLeader();
        host.peerJoined(message.from);
      }
      this.#heardHellos.add(message.from);
    } else if (type === 'needs') {
      this.#peers.set(message.from, { ...message, seenAt: this.#options.clock.now() });
      host.needsChanged();
    } else if (type === 'bye') {
      this.#heardHellos.delete(message.from);
      if (this.#peers.delete(message.from)) host.needsChanged();
    } else if (type === 'leader') {
      const leaderTabId = message.leaderTabId;
      // The first leader heard since our hello, if we heard its own hello
      // too (#heardHellos), opened or came back from idle after ours and never
      // heard it: we say it again (else a tab back from idle through a reset
      // kept its old epoch's cursor, and took the new epoch's events for
      // duplicates). Not to any other leader: one that heard our hello
      // answers it, also one that won as it was on its way; answered twice,
      // a flags answer older than a setFlags of ours lifted it here until
      // the leader's next message. (One that heard it as we heard its own
      // answers once: see #heardHellos.)
      if (this.#asking && this.#heardHellos.has(leaderTabId)) this.post({ type: 'hello' });
      this.#asking = false;
      this.#heardHellos.clear();
      this.heardLeader(leaderTabId);
    }
    // The rest goes to the host method of its type: flags to every tab, what
    // asks the leader to the leader, what it tells to the followers.
    else if (type === 'flags' || (type === 'sync' || type === 'replay') === this.isLeader)
      host[type](message as never);
  }

  #scheduleRefresh(): void {
    // stop() clears it: it fires only while started, on the channel of that start.
    const channel = this.#channel;
    this.#refreshTimer.set(() => {
      this.announceNeeds();
      const now = this.#options.clock.now();
      let expired: boolean | undefined;
      // Peers unheard of for too long go.
      for (const [tabId, peer] of this.#peers) {
        if (now - peer.seenAt > PEER_EXPIRY_MS) expired = this.#peers.delete(tabId);
      }
      if (expired) this.#options.host.needsChanged();
      // needsChanged runs the app's state listeners synchronously, and one may
      // close the client: stop() then cleared this (already fired) timer, and
      // re-arming it here would run every 10 s for the rest of the page's life.
      // A stop() and start() meanwhile armed a timer of their own.
      if (this.#channel === channel) this.#scheduleRefresh();
    }, NEEDS_REFRESH_MS);
  }
}
