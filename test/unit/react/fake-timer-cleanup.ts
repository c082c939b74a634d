import { cleanup } from '@testing-library/react';
import { afterEach, beforeEach, vi } from 'vitest';
import type { RealtimeClient } from '../../../src/client';

/**
 * After each test of the file, unmounts what `render` mounted and closes
 * every client pushed into the returned list.
 */
export function cleanupAfterEach(): RealtimeClient[] {
  const clients: RealtimeClient[] = [];
  afterEach(async () => {
    cleanup();
    for (const client of clients.splice(0)) await client.close();
  });
  return clients;
}

/**
 * Fake timers in each test of the file; after each, unmounts what `render`
 * mounted, restores real timers and closes every client pushed into the
 * returned list.
 */
export function fakeTimersAndCleanup(): RealtimeClient[] {
  const clients: RealtimeClient[] = [];
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(async () => {
    cleanup();
    vi.useRealTimers();
    for (const client of clients.splice(0)) await client.close();
  });
  return clients;
}
