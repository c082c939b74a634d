import { expect, vi } from 'vitest';
import type { EventHandler, RealtimeClient } from '../../src/client';
import type { FakeBrowser } from '../../src/testing/fake-browser';

/**
 * Leaves tab `a` a follower whose own breaker is open: `a` leads while every
 * connect fails (its circuit opens), goes idle, a new tab leads with a
 * healthy connection, and `a` subscribes to `tasks` again with `handler`.
 * The breaker a stopped loop left open then moves to half-open and waits for
 * a probe that never comes. Returns the new leader.
 */
export async function formerLeaderWithOpenCircuit(
  browser: FakeBrowser,
  a: RealtimeClient,
  handler: EventHandler = () => {},
): Promise<RealtimeClient> {
  browser.backend.failNextConnects(1000);
  const offA = a.subscribe('tasks', handler);
  await vi.advanceTimersByTimeAsync(10_000);
  expect(a.getState().isLeader).toBe(true);
  expect(a.getState().circuit.state).not.toBe('closed');

  // A goes idle (a route without realtime): B takes the lead and connects.
  offA();
  await vi.advanceTimersByTimeAsync(100);
  browser.backend.failNextConnects(0);
  const b = browser.tab();
  b.subscribe('tasks', () => {});
  await vi.advanceTimersByTimeAsync(5_000);
  expect(b.getState()).toMatchObject({ isLeader: true, status: 'connected' });

  // A comes back as a follower of B's healthy connection.
  a.subscribe('tasks', handler);
  await vi.advanceTimersByTimeAsync(1_000);
  expect(a.getState()).toMatchObject({ isLeader: false, status: 'connected' });
  return b;
}
