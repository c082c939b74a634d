/**
 * The dev server side of the load bench, in its own Node process (forked by
 * load.ts with an IPC channel), so that the 1,000 tabs and the server do not
 * share one event loop or one heap, and the tabs' heap can be measured alone.
 *
 * It answers commands from the parent: start a fresh dev server on
 * 127.0.0.1, publish at a steady rate (bounded in count and time) while
 * sampling `metrics().pollWaiters`, publish a burst, stop/start, read
 * metrics and connections, close. Events carry the server's `Date.now()` as
 * `ts`; the parent stamps delivery with its own `Date.now()` (one machine,
 * one clock).
 */
import { type DevServer, startDevServer } from '../../src/devserver/index';
import type { DevServerOptions } from '../../src/devserver/types';

export type ServerCommand =
  | { id: number; cmd: 'start'; options: DevServerOptions }
  | {
      id: number;
      cmd: 'steady';
      orgs: string[];
      /** Events per second per org. */
      ratePerOrg: number;
      durationMs: number;
    }
  | { id: number; cmd: 'burst'; orgId: string; count: number }
  | { id: number; cmd: 'paced'; orgId: string; count: number; ratePerSecond: number }
  | { id: number; cmd: 'stop' }
  | { id: number; cmd: 'restart-listener' }
  | { id: number; cmd: 'metrics' }
  | { id: number; cmd: 'connections' }
  | { id: number; cmd: 'close' }
  | { id: number; cmd: 'exit' };

export interface SteadyResult {
  /** Per org, how many events were published (their seqs are 1..n on a fresh server). */
  published: Record<string, number>;
  elapsedMs: number;
  requestsDelta: number;
  pollWaiterSamples: number[];
  /** Publish calls that fell behind schedule by more than 50 ms (the server's loop was busy). */
  lateTicks: number;
}

let server: DevServer | undefined;

const send = (message: unknown) => process.send?.(message);

function event(extra: Record<string, unknown> = {}) {
  return { service: 'tasks', entityType: 'task', type: 'task.updated', data: { id: 't_1', ...extra } };
}

/** A steady stream: every org gets `ratePerOrg` events/s, spread evenly, round-robin over orgs. */
async function steady(orgs: string[], ratePerOrg: number, durationMs: number): Promise<SteadyResult> {
  const s = must();
  const total = Math.round(orgs.length * ratePerOrg * (durationMs / 1000));
  const totalRate = orgs.length * ratePerOrg;
  const published: Record<string, number> = {};
  for (const org of orgs) published[org] = 0;
  const samples: number[] = [];
  const requestsBefore = s.metrics().requestsTotal;
  const start = performance.now();
  let sent = 0;
  let lateTicks = 0;
  const sampler = setInterval(() => samples.push(s.metrics().pollWaiters), 100);
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsed = performance.now() - start;
      const due = Math.min(total, Math.floor((elapsed * totalRate) / 1000));
      if (due - sent > totalRate * 0.05) lateTicks++;
      while (sent < due) {
        const org = orgs[sent % orgs.length] as string;
        s.publish(org, event({ n: sent }));
        published[org] = (published[org] ?? 0) + 1;
        sent++;
      }
      // Bounded twice: by count and by time (1.5 × the planned duration).
      if (sent >= total || elapsed > durationMs * 1.5) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, 5);
  });
  clearInterval(sampler);
  const elapsedMs = performance.now() - start;
  return {
    published,
    elapsedMs,
    requestsDelta: s.metrics().requestsTotal - requestsBefore,
    pollWaiterSamples: samples,
    lateTicks,
  };
}

/** `count` events at `ratePerSecond`, in 5 ms ticks; bounded by count and by 3 × the planned time. */
async function paced(orgId: string, count: number, ratePerSecond: number): Promise<{ elapsedMs: number }> {
  const s = must();
  const start = performance.now();
  const planned = (count / ratePerSecond) * 1000;
  let sent = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - start;
      const due = Math.min(count, Math.floor((elapsed * ratePerSecond) / 1000));
      while (sent < due) {
        s.publish(orgId, event({ n: sent }));
        sent++;
      }
      if (sent >= count || elapsed > planned * 3 + 1000) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
  return { elapsedMs: performance.now() - start };
}

function must(): DevServer {
  if (!server) throw new Error('no dev server started');
  return server;
}

process.on('message', async (message: ServerCommand) => {
  try {
    let result: unknown;
    switch (message.cmd) {
      case 'start':
        if (server) await server.close();
        server = await startDevServer({ ...message.options, host: '127.0.0.1' });
        result = { url: server.url, origin: server.origin };
        break;
      case 'steady':
        result = await steady(message.orgs, message.ratePerOrg, message.durationMs);
        break;
      case 'burst': {
        const s = must();
        for (let i = 0; i < message.count; i++) s.publish(message.orgId, event({ n: i }));
        result = { published: message.count };
        break;
      }
      case 'paced':
        result = await paced(message.orgId, message.count, message.ratePerSecond);
        break;
      case 'stop':
        await must().stop();
        break;
      case 'restart-listener':
        await must().start();
        break;
      case 'metrics':
        result = must().metrics();
        break;
      case 'connections':
        result = must().connections();
        break;
      case 'close':
        await server?.close();
        server = undefined;
        break;
      case 'exit':
        await server?.close();
        send({ id: message.id, ok: true });
        process.disconnect?.();
        process.exit(0);
    }
    send({ id: message.id, ok: true, result });
  } catch (error) {
    send({ id: message.id, ok: false, error: error instanceof Error ? error.stack : String(error) });
  }
});

// Never outlive the parent.
process.on('disconnect', () => process.exit(0));
send({ ready: true });
