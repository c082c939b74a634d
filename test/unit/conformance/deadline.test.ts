import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { atDeadline, ItemQueue, now, STALL_MS } from '../../../src/conformance/queue';

// The conformance kit's time limits must not fail a correct backend because
// the checking process stalled (a loaded machine, a backend in the same
// process): after a stall Node runs every due timer before it polls sockets,
// so a frame that arrived, or that the backend wrote from its own due timer,
// was still unread when the deadline's timer judged it missing.

/** Keeps the event loop busy for `ms`: the checker's process stalled. */
function stall(ms: number): void {
  const until = now() + ms;
  while (now() < until) {
    // busy: no timer, no socket is served
  }
}

/** A TCP connection on 127.0.0.1: `write` is the backend's end, `read` the checker's. */
async function socketPair(): Promise<{ write: Socket; read: Socket; close(): void }> {
  let accepted: (socket: Socket) => void = () => {};
  const server: Server = createServer((socket) => accepted(socket));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const { connect } = await import('node:net');
  const [write, read] = await Promise.all([
    new Promise<Socket>((done) => {
      accepted = done;
    }),
    new Promise<Socket>((done) => {
      const socket = connect(address.port, '127.0.0.1', () => done(socket));
    }),
  ]);
  return {
    write,
    read,
    close: () => {
      write.destroy();
      read.destroy();
      server.close();
    },
  };
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe('ItemQueue.next at its deadline', () => {
  it('reads a frame the backend sent while the checker stalled past the deadline, instead of timing out', async () => {
    const pair = await socketPair();
    cleanups.push(pair.close);
    const queue = new ItemQueue();
    pair.read.on('data', () => queue.push({ kind: 'end', detail: 'the frame' }));
    const start = now();
    // The backend's beat is due before the deadline; the stall delays both past it.
    setTimeout(() => pair.write.write('beat'), 40);
    const next = queue.next(start + 60);
    setTimeout(() => stall(150), 10);
    const item = await next;
    expect(item).toEqual({ kind: 'end', detail: 'the frame' });
  });

  it('still times out when nothing comes, no sooner than the deadline, and says by how much a stall moved it', async () => {
    const queue = new ItemQueue();
    const deadline = now() + 50;
    expect(await queue.next(deadline)).toEqual({ kind: 'timeout' });
    expect(now()).toBeGreaterThanOrEqual(deadline);

    const stalledAt = now() + 30;
    const moved = queue.next(stalledAt);
    setTimeout(() => stall(120), 10);
    const item = await moved;
    expect(item.kind).toBe('timeout');
    const stalledMs = item.kind === 'timeout' ? (item.stalledMs ?? 0) : 0;
    expect(stalledMs).toBeGreaterThan(STALL_MS);
    // Moved on by the stall it saw: the deadline plus twice the lateness (the stall itself, then as long again).
    expect(now()).toBeGreaterThanOrEqual(stalledAt + 2 * stalledMs - 5);
  });
});

describe('atDeadline', () => {
  it('never fires when cancelled, and fires once otherwise', async () => {
    let fired = 0;
    const cancel = atDeadline(now() + 5, () => fired++);
    cancel();
    atDeadline(now() + 5, () => fired++);
    await new Promise((done) => setTimeout(done, 60));
    expect(fired).toBe(1);
  });
});
