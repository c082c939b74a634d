import type { RealtimeClient } from '../client';

/** Name of the DOM event that carries a service's events: `${service}-stream-events`. */
export function streamEventName(service: string): string {
  return `${service}-stream-events`;
}

/**
 * What every binding of one client to one target asks for together. One
 * `events` listener dispatches each batch at most once, whoever asked for
 * it: two bindings of the same pair (two widgets, a hot reload, a legacy
 * script beside a new one) used to dispatch every batch twice.
 */
interface TargetDispatch {
  /** Bindings without `services`: every batch the tab's own subscribers get. */
  all: number;
  /** Per service named by a binding: how many name it, and their one subscription. */
  readonly services: Map<string, { refs: number; readonly off: () => void }>;
  readonly off: () => void;
}

const dispatches = new WeakMap<RealtimeClient, Map<EventTarget, TargetDispatch>>();

/** Our subscriptions only keep the services wanted; the `events` listener dispatches. */
function keep(): void {}

/**
 * Adds one binding of `client` to `target`: `services` (each subscribed, a
 * name given twice counted once), or without them every service the tab's
 * own subscribers get. Returns its release, which undoes only what this
 * binding added; the last release removes the listener.
 *
 * @throws RangeError for an invalid service name, having added nothing.
 */
export function shareTargetDispatch(
  client: RealtimeClient,
  target: EventTarget,
  services: readonly string[] | undefined,
): () => void {
  const byTarget = dispatches.get(client) ?? new Map<EventTarget, TargetDispatch>();
  dispatches.set(client, byTarget);
  const entry: TargetDispatch = byTarget.get(target) ?? {
    all: 0,
    services: new Map(),
    off: client.on('events', (service, events) => {
      if (entry.all > 0 || entry.services.has(service)) {
        target.dispatchEvent(new CustomEvent(streamEventName(service), { detail: events }));
      }
    }),
  };
  byTarget.set(target, entry);
  const mine = services && [...new Set(services)];
  const release = (names: readonly string[]): void => {
    for (const name of names) {
      const service = entry.services.get(name)!;
      if (--service.refs === 0) {
        entry.services.delete(name);
        service.off();
      }
    }
    // A binding that named no service (`services: []`) may come last, after
    // its pair's dispatch was removed and maybe replaced by a new one.
    if (entry.all === 0 && entry.services.size === 0 && byTarget.get(target) === entry) {
      byTarget.delete(target);
      entry.off();
    }
  };
  if (!mine) entry.all++;
  const added: string[] = [];
  try {
    for (const name of mine ?? []) {
      const service = entry.services.get(name) ?? { refs: 0, off: client.subscribe(name, keep) };
      service.refs++;
      entry.services.set(name, service);
      added.push(name);
    }
  } catch (error) {
    // An invalid name halfway: undo what this binding added so far.
    release(added);
    throw error;
  }
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (!mine) entry.all--;
    release(added);
  };
}
