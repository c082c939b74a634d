import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../src/client';
import { DEFAULT_FLAGS } from '../../src/options';
import { createStore } from '../../src/store';
import { createMemoryBackend, type MemoryBackend } from '../../src/testing/memory-backend';
import { memoryOptions } from './react/helpers';

// The state is a snapshot: in the default build it is frozen, with the
// objects and arrays it holds, so an app (or a DevTools console) writing into
// `getState()` cannot change what the client reads back behind its back
// (src/store.ts). The production build leaves the freeze out.

let backend: MemoryBackend;
let rt: RealtimeClient | undefined;

beforeEach(() => {
  vi.useFakeTimers();
  backend = createMemoryBackend({ heartbeatMs: 60_000 });
});

afterEach(async () => {
  await rt?.close();
  rt = undefined;
  vi.unstubAllEnvs();
  vi.useRealTimers();
});

describe('the state snapshot', () => {
  it('refuses writes into it and into what it holds, and the client goes on', async () => {
    rt = createRealtime(memoryOptions(backend));
    const seen: number[] = [];
    rt.subscribe('tasks', (events) => seen.push(...events.map((e) => e.seq)));
    await vi.advanceTimersByTimeAsync(100);
    const state = rt.getState();
    expect(state.status).toBe('connected');
    // Test files are modules: strict code, where a write to a frozen object throws.
    expect(() => {
      (state as { status: string }).status = 'closed';
    }).toThrow(TypeError);
    expect(() => {
      state.flags.emergencyDisable = true;
    }).toThrow(TypeError);
    expect(() => {
      state.counters.gaps = 99;
    }).toThrow(TypeError);
    expect(() => {
      (state.services as string[]).push('other');
    }).toThrow(TypeError);
    // A later snapshot is frozen too, and the client kept working.
    backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(100);
    expect(seen).toEqual([1]);
    const next = rt.getState();
    expect(next).not.toBe(state);
    expect(Object.isFrozen(next)).toBe(true);
    expect(Object.isFrozen(next.cursor)).toBe(true);
    expect(next.flags.emergencyDisable).toBe(false);
    expect(next.status).toBe('connected');
  });

  // The flags' lists are read back at each dispatch (disabledServices) and
  // gate (disabledOrgs). Without flags in the options they are DEFAULT_FLAGS'
  // own arrays: a push into one turned realtime off in every client the page
  // made after, too.
  it('refuses writes into the lists it holds, whose owner is the client, not the app', async () => {
    rt = createRealtime(memoryOptions(backend));
    const { flags } = rt.getState();
    expect(() => flags.disabledOrgs.push('org_test')).toThrow(TypeError);
    expect(() => flags.disabledServices.push('tasks')).toThrow(TypeError);
    expect(DEFAULT_FLAGS.disabledOrgs).toEqual([]);
    expect(DEFAULT_FLAGS.disabledServices).toEqual([]);
    // The app's own arrays are copied into the state, never frozen.
    const disabledServices = ['billing'];
    const disabledOrgs = ['org_other'];
    const other = createRealtime(memoryOptions(backend, { flags: { disabledOrgs, disabledServices } }));
    other.setFlags({ disabledServices });
    expect(Object.isFrozen(other.getState().flags.disabledServices)).toBe(true);
    expect(Object.isFrozen(disabledServices)).toBe(false);
    expect(Object.isFrozen(disabledOrgs)).toBe(false);
    await other.close();
  });

  it('is left unfrozen by the production build', () => {
    vi.stubEnv('NODE_ENV', 'production');
    const store = createStore({ a: 1, nested: { b: 2 } });
    expect(Object.isFrozen(store.getState())).toBe(false);
    store.setState({ a: 2 });
    expect(Object.isFrozen(store.getState())).toBe(false);
    expect(Object.isFrozen(store.getState().nested)).toBe(false);
  });

  it('freezes the store of the default build at creation and at each change', () => {
    const store = createStore({ a: 1, nested: { b: 2 }, list: [1] });
    expect(Object.isFrozen(store.getState())).toBe(true);
    expect(Object.isFrozen(store.getState().nested)).toBe(true);
    store.setState({ list: [1, 2] });
    expect(Object.isFrozen(store.getState().list)).toBe(true);
    // However deep: an object's lists, a list's objects.
    store.setState({ nested: { b: 3, list: [1] } as { b: number } });
    expect(Object.isFrozen((store.getState().nested as { list?: number[] }).list)).toBe(true);
  });
});
