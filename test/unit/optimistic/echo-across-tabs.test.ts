import { describe, expect, it, vi } from 'vitest';
import { fakeBrowserEach } from '../tabs/fake-browser-each';

// Coverage from a bug hunt (these pass on main): an echo counts in the tab
// that tracked it wherever the connection lives, also when that tab's
// property filter, shadow mode or a disabled service keeps it from the
// handlers, and when it comes in a replay (reconnect, lost batch, takeover).

const browser = fakeBrowserEach();

async function twoTabs() {
  const a = browser().tab();
  a.subscribe('tasks', () => {});
  await vi.advanceTimersByTimeAsync(2000);
  const b = browser().tab();
  b.subscribe('tasks', () => {});
  await vi.advanceTimersByTimeAsync(2000);
  expect(a.getState().isLeader).toBe(true);
  expect(b.getState().isLeader).toBe(false);
  return { a, b, backend: browser().backend };
}

describe('an echo across tabs', () => {
  it('reaches a follower that tracked it', async () => {
    const { b, backend } = await twoTabs();
    const m = b.trackMutation('m_1', { timeoutMs: 5000 });
    await vi.advanceTimersByTimeAsync(10);
    backend.publish({ service: 'tasks', mutationId: 'm_1' });
    await vi.advanceTimersByTimeAsync(10);
    expect(m.status()).toBe('visible');
  });
  it('counts in a follower whose property filter withholds it', async () => {
    const { b, backend } = await twoTabs();
    b.setPropertyFilter('p9');
    await vi.advanceTimersByTimeAsync(100);
    const m = b.trackMutation('m_1', { timeoutMs: 5000 });
    backend.publish({ service: 'tasks', propertyId: 'p1', mutationId: 'm_1' });
    await vi.advanceTimersByTimeAsync(10);
    expect(m.status()).toBe('visible');
  });
  it('counts in shadow mode', async () => {
    const { a, b, backend } = await twoTabs();
    a.setFlags({ shadowMode: true });
    await vi.advanceTimersByTimeAsync(100);
    expect(b.getState().flags.shadowMode).toBe(true);
    const m = b.trackMutation('m_1', { timeoutMs: 5000 });
    backend.publish({ service: 'tasks', mutationId: 'm_1' });
    await vi.advanceTimersByTimeAsync(10);
    expect(m.status()).toBe('visible');
  });
  it('counts for a disabled service, in leader and follower', async () => {
    const { a, b, backend } = await twoTabs();
    a.setFlags({ disabledServices: ['tasks'] });
    await vi.advanceTimersByTimeAsync(100);
    const m = b.trackMutation('m_1', { timeoutMs: 5000 });
    const n = a.trackMutation('m_2', { timeoutMs: 5000 });
    backend.publish({ service: 'tasks', mutationId: 'm_1' });
    backend.publish({ service: 'tasks', mutationId: 'm_2' });
    await vi.advanceTimersByTimeAsync(10);
    expect(m.status()).toBe('visible');
    expect(n.status()).toBe('visible');
  });
  it('counts when it comes in the replay after a reconnect', async () => {
    const { a, b, backend } = await twoTabs();
    const m = b.trackMutation('m_1', { timeoutMs: 30000 });
    const n = a.trackMutation('m_2', { timeoutMs: 30000 });
    backend.drop();
    backend.failNextConnects(1);
    backend.publish({ service: 'tasks', mutationId: 'm_1' });
    backend.publish({ service: 'tasks', mutationId: 'm_2' });
    await vi.advanceTimersByTimeAsync(20000);
    expect(a.getState().status).toBe('connected');
    expect(n.status()).toBe('visible');
    expect(m.status()).toBe('visible');
  });
  it('counts when it comes in the replay that fills a gap', async () => {
    const { a, b, backend } = await twoTabs();
    const m = b.trackMutation('m_1', { timeoutMs: 30000 });
    const n = a.trackMutation('m_2', { timeoutMs: 30000 });
    backend.loseNextBatches(1);
    backend.publish({ service: 'tasks', mutationId: 'm_1' });
    backend.publish({ service: 'tasks', mutationId: 'm_2' });
    await vi.advanceTimersByTimeAsync(20000);
    expect(n.status()).toBe('visible');
    expect(m.status()).toBe('visible');
  });
  it('reaches a follower that tracked it before joining', async () => {
    const a = browser().tab();
    a.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(2000);
    const b = browser().tab();
    b.subscribe('tasks', () => {});
    const m = b.trackMutation('m_1', { timeoutMs: 30000 });
    await vi.advanceTimersByTimeAsync(0);
    browser().backend.publish({ service: 'tasks', mutationId: 'm_1' });
    await vi.advanceTimersByTimeAsync(2000);
    expect(m.status()).toBe('visible');
  });
  it('reaches the follower while the leader closes', async () => {
    const { a, b, backend } = await twoTabs();
    const m = b.trackMutation('m_1', { timeoutMs: 30000 });
    const closing = a.close();
    backend.publish({ service: 'tasks', mutationId: 'm_1' });
    await closing;
    await vi.advanceTimersByTimeAsync(10000);
    expect(b.getState().isLeader).toBe(true);
    expect(m.status()).toBe('visible');
  });
  it('reaches the new leader when the old one lost it and closed', async () => {
    const { a, b, backend } = await twoTabs();
    const m = b.trackMutation('m_1', { timeoutMs: 30000 });
    backend.loseNextBatches(1);
    backend.publish({ service: 'tasks', mutationId: 'm_1' });
    await a.close();
    await vi.advanceTimersByTimeAsync(10000);
    expect(b.getState().isLeader).toBe(true);
    expect(m.status()).toBe('visible');
  });
});
