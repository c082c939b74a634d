import type { Clock, WallClock } from '../clock';
import { isRealtimeError } from '../errors';
import type { StorageLike } from '../tabs/leader-election';
import { noop } from '../util/emitter';
import { fail } from '../util/validate';
import { builtinTransports } from './builtins';
import type { Transport, TransportConnection, TransportContext } from './types';
import type { WebSocketConstructorLike } from './websocket';

/** The built-in transports, by name. */
export type TransportName = 'websocket' | 'sse' | 'long-poll';

/** Platform pieces handed to the built-in transports. Browsers need none. */
export interface TransportPlatform {
  WebSocket?: WebSocketConstructorLike;
  fetch?: typeof fetch;
  /** Wall clock for `Retry-After` dates and long-poll's synthetic heartbeats. */
  now?: WallClock;
  /** Times long-poll's pause after answers that came back at once with nothing new. */
  clock?: Clock;
  /**
   * The client's `maxFrameChars`: SSE's parser must keep every frame the core
   * accepts, or a frame the app allowed is dropped before the core sees it;
   * long-poll, whose answers are parsed whole, drops the longer ones itself.
   */
  maxFrameChars?: number;
}

/**
 * Checks the `transports` option (`field`, as messages name it): a non-empty
 * array of built-in names and `Transport` objects (a `name` and a `connect`
 * method). Throws a `RangeError` naming the entry and showing its value.
 * `resolveOptions` runs it in the default build only; the `production`
 * build trusts the option (docs/options.md).
 */
export function assertTransportList(
  field: string,
  list: unknown,
): asserts list is ReadonlyArray<TransportName | Transport> {
  if (!Array.isArray(list) || list.length === 0) fail(field, 'a non-empty array', list);
  list.forEach((entry, index) => {
    const ok =
      typeof entry === 'string'
        ? Object.hasOwn(builtinTransports, entry)
        : typeof entry === 'object' &&
          typeof (entry as Transport | null)?.connect === 'function' &&
          typeof (entry as Transport).name === 'string';
    if (!ok) fail(`${field}[${index}]`, '"websocket","sse","long-poll" or a Transport', entry);
  });
}

/**
 * Turns the configured list (names of built-ins or `Transport` objects) into
 * transports, giving the built-ins the platform pieces. The list is the
 * `transports` option, which options.ts has checked with
 * {@link assertTransportList} (default build): it is not checked again.
 */
export function resolveTransports(
  list: ReadonlyArray<TransportName | Transport>,
  platform: TransportPlatform = {},
): Transport[] {
  // The platform is exactly the options each built-in reads from it.
  return list.map((entry) => (typeof entry === 'string' ? builtinTransports[entry](platform) : entry));
}

/**
 * How long a browser, and a page, start with the transport they fell back
 * to: an hour, long enough that the reloads, new leaders and reconnects of a
 * session behind a broken proxy skip its 22 to 48 s of dead transports (paid
 * again at most once an hour), short enough that a laptop taken to a working
 * network, or a page that fell back during a deploy, is back on the first
 * transport within the hour (the fallback works there too, only less well,
 * so being wrong for a while costs little).
 */
const REMEMBER_MS = 3_600_000;

/**
 * Connects through the configured transports in order. A transport that the
 * server welcomed becomes the first one tried from then on; the others are
 * tried again only when it fails to connect. The loop reports each attempt's
 * welcome, or its absence ({@link noteWelcome}): a transport that connects
 * is not yet one that works.
 *
 * A transport that twice in a row got no welcome (it connected, or never
 * answered, and then nothing came: a proxy that passes the WebSocket upgrade
 * and holds every frame, one that buffers an event stream) moves to the end
 * of the order, and the order starts again from its first transport. With
 * a single transport nothing changes.
 *
 * A fallback (a welcome on any transport but the configured first, or the
 * remembered one below) holds for {@link REMEMBER_MS} by the wall clock: the next
 * `connect` after that starts from the configured order again, and a first
 * transport that still gets no welcome moves to the end again, as before.
 * The next `connect` after {@link forgetFallback} (the page's `online`) tries
 * the configured order for that attempt only: the chain keeps its order, so
 * the `connect` after it goes back to the fallback unless a welcome came
 * between (on the first transport: the fallback is over).
 *
 * The browser remembers a welcome on a transport other than the configured
 * first (`storage`, under `key`, as `["<name>",<wall-clock ms>]`): a chain's
 * first `connect` (a page load, a tab becoming leader) starts with it for
 * {@link REMEMBER_MS} from then. A welcome on the first transport forgets it.
 */
export class TransportChain {
  /** The configured order, with the transports that got no welcome twice moved to its end. */
  #transports: readonly Transport[];
  /** The order of the next `connect`: the one welcomed last first, then the others in `#transports` order. */
  #order: readonly Transport[];
  #current: string | undefined;
  /** The transport the last `connect` tried last: the one its attempt's welcome, or its absence, is about. */
  #tried: Transport;
  /** The transport of the last attempt, if it got no welcome. */
  #unwelcomed: Transport | false | undefined;
  /**
   * The configured order: its first transport's welcome forgets what storage
   * remembered, and a chain that kept it (moved no transport to the end)
   * remembers nothing.
   */
  readonly #configured: readonly Transport[];
  /**
   * The name in storage as this chain last read or wrote it (`''`: none),
   * `undefined` before the first `connect` reads it. A welcome on it writes
   * nothing: its time stays that of the fallback that learnt it, so a
   * browser that keeps reloading still tries the first transport again once
   * it is {@link REMEMBER_MS} old.
   */
  #remembered: string | undefined;
  /**
   * Wall-clock time of the fallback this chain is on: of its first welcome
   * past the configured first transport, or the remembered one's time it
   * read. `undefined`: none since the
   * chain was made, went back to the configured order, or was welcomed on
   * the first transport.
   */
  #since: number | undefined;
  /**
   * The probe of {@link forgetFallback}: 2 until the next `connect`, which
   * counts it down and tries the configured order; 1 from that `connect` to
   * the next, or to a welcome (the probe is on); else 0.
   */
  #probe = 0;
  readonly #storage: StorageLike | undefined;
  readonly #key: string;
  readonly #now: WallClock | undefined;

  /**
   * `transports`: the resolved `transports` option, never empty; `storage`
   * (none in a worker or Node) and `key` (per app and scope): where the
   * browser's fallback is remembered; `now`: their wall clock.
   */
  constructor(transports: readonly Transport[], storage?: StorageLike, key?: string, now?: WallClock) {
    this.#order = this.#transports = this.#configured = transports;
    this.#tried = transports[0]!;
    this.#storage = storage;
    // Per list too: a page of the app with other `transports` (an embed on
    // long-poll only) has another first transport and other fallbacks.
    this.#key = `${key}:${transports.map((transport) => transport.name)}`;
    this.#now = now;
  }

  /** Name of the transport of the last successful `connect`, until then `undefined`. */
  get currentName(): string | undefined {
    return this.#current;
  }

  /** Lets the transport the next `connect` tries first get ready (see `Transport.preload`). */
  preload(): void {
    // The transport the first connect will try first, as storage says now.
    if (this.#remembered === undefined) this.#recall();
    try {
      // A failure is met again, and reported, by the next connect.
      Promise.resolve(this.#order[0]!.preload?.()).catch(noop);
    } catch {
      // A custom transport's preload must not break the client; connect will tell.
    }
  }

  /**
   * Connects with the first transport that can. A `transport_unavailable`
   * rejection (or a failure that is not a `RealtimeError`) moves on to the
   * next; any other rejection, or an abort of `ctx.signal`, is thrown at once.
   * When every transport fails, the last error is thrown. `onTry` is called
   * as each one starts: the loop times the connect from the transport that
   * answers, not from the first tried (see `ConnectionLoopSink.welcome`).
   */
  async connect(ctx: TransportContext, onTry?: () => void): Promise<TransportConnection> {
    let lastError: unknown;
    // Read at the first connect, not before: a tab that becomes leader
    // later sees what the leader before it learnt.
    if (this.#remembered === undefined) this.#remembered = this.#recall();
    // An hour into a fallback the first transport may work again (a deploy's
    // outage is over, the proxy gone): pages stay open for days. What this
    // chain learnt is forgotten; a fallback learnt again is remembered again,
    // with its new time. (Only a chain with a clock has a time.)
    else if (this.#since !== undefined && this.#now!() - this.#since >= REMEMBER_MS) {
      this.#order = this.#transports = this.#configured;
      this.#since = undefined;
      this.#remembered = '';
    }
    // The probe's attempt is this one; the next goes back to the chain's
    // order, whether this one timed out or was cut short (a reconnect).
    if (this.#probe) this.#probe--;
    for (const transport of this.#probe ? this.#configured : this.#order) {
      try {
        this.#tried = transport;
        // Timed once its code is here: half the round trip to the welcome
        // estimates the server's clock, and a download is not on that trip.
        await transport.preload?.();
        // Given up while it loaded (a reconnect, a timeout): going on, it
        // restarted the clock of the attempt that replaced it, and a
        // connection it opened made `currentName` that of a closed one.
        if (ctx.signal.aborted) throw ctx.signal.reason;
        onTry?.();
        const connection = await transport.connect(ctx);
        this.#current = transport.name;
        return connection;
      } catch (error) {
        // Another transport may succeed where this one was unavailable, or
        // where the failure carried no server answer at all (a custom
        // transport's network error). A server that answered (401, 403, 429,
        // 400, 5xx) would answer the next transport the same way.
        if (ctx.signal.aborted || (isRealtimeError(error) && error.code !== 'transport_unavailable')) {
          throw error;
        }
        lastError = error;
      }
    }
    // Every transport failed: the last one's error is the chain's.
    throw lastError;
  }

  /**
   * How the attempt of the last `connect` ended: welcomed (`true`), or with
   * no welcome and no server answer either (`false`: the welcome timed out,
   * or the connection closed before it). Not called for other ends. Two
   * `false` in a row for the same transport move it to the end; not one: a
   * single slow welcome (a server busy for a moment, a network waking up)
   * must not put a working WebSocket behind SSE for the session, and the
   * second try still comes before the circuit breaker's default three
   * failures open it.
   */
  noteWelcome(welcomed: boolean): void {
    const tried = this.#tried;
    if (welcomed) {
      try {
        // The first transport works (the network changed): forget. Else
        // remember the transport this chain learnt, not the one it read; and
        // only past transports it moved to the end (connects that timed
        // out): one that failed at once (a socket error in a deploy) cost
        // nothing to skip, and would pin the browser to a fallback.
        // (Noted before the write: storage that throws is not tried again.)
        if (tried === this.#configured[0]) {
          // It works: no longer moved to the end (a probe after `online` left
          // the order as it was), and a fallback past it refused at once is
          // not remembered.
          this.#transports = this.#configured;
          this.#remembered = '';
          // Back on the first transport: a later fallback's hour starts at
          // that fallback, not at one the chain has since left.
          this.#since = undefined;
          this.#storage?.removeItem(this.#key);
        } else {
          const now = this.#now!();
          // Any welcome past the first transport starts the chain's own hour
          // (also without storage, and past one refused at once: a deploy's
          // 502 put the page on SSE as surely as a proxy's timeouts).
          this.#since ??= now;
          if (tried.name !== this.#remembered && this.#transports !== this.#configured) {
            this.#remembered = tried.name;
            this.#storage?.setItem(this.#key, JSON.stringify([tried.name, now]));
          }
        }
      } catch {
        // Blocked or full storage: the browser remembers nothing.
      }
      // After the reset above: the others in the order it restored, not in
      // one with transports it moved to the end.
      this.#first(tried);
      // Connected: a probe is over, and the next `online` may start one.
      this.#probe = 0;
    } else if (tried === this.#unwelcomed) {
      this.#order = this.#transports = [
        ...this.#transports.filter((transport) => transport !== tried),
        tried,
      ];
    }
    this.#unwelcomed = !welcomed && tried;
  }

  /**
   * Has the next `connect` try the configured order, once (the page's
   * `online`: the network changed, the proxy the chain fell back from may be
   * gone). A welcome on the first transport ends the fallback as always
   * (storage forgets it); with none, the `connect` after goes back to the
   * chain's order, and the fallback's hour runs on. One attempt, not
   * the two that move a transport to the end: behind a proxy still there,
   * each `online` costs one timeout, and `online` events faster than a
   * timeout (a flapping network) cut attempts short, which noteWelcome never
   * sees. Not again while the probe is on: the fallback gets the next
   * attempt. Storage keeps what it remembers (other pages of this network
   * would pay the timeouts again); a chain that has not connected yet reads
   * it at its first `connect`, as a page load.
   */
  forgetFallback(): void {
    if (this.#remembered !== undefined) this.#probe ||= 2;
  }

  /**
   * Orders the chain by what storage remembers (the configured order if
   * nothing valid); returns the remembered name, or `''`. Storage is a
   * boundary: a value noteWelcome did not write (another bundle, a user, a
   * broken clock) throws here or fails the check below, as does storage that
   * is missing or throws; either way it is ignored.
   */
  #recall(): string {
    this.#order = this.#transports;
    try {
      const [name, at] = JSON.parse(this.#storage!.getItem(this.#key)!);
      const age = this.#now!() - at;
      const remembered = this.#transports.find((transport) => transport.name === name);
      if (remembered && typeof at === 'number' && age >= 0 && age < REMEMBER_MS) {
        this.#since = at;
        this.#first(remembered);
        return name;
      }
    } catch {}
    return '';
  }

  /** The order of the next `connect`: `transport`, then the others in `#transports` order. */
  #first(transport: Transport): void {
    this.#order = [transport, ...this.#transports.filter((other) => other !== transport)];
  }
}
