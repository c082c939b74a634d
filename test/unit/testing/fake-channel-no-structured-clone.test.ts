import { afterEach, describe, expect, it, vi } from 'vitest';
import { createBroadcastChannelHub, createFakeBrowser, createMemoryBackend } from '../../../src/testing';

// Jest's jsdom environment has no global `structuredClone` (a jsdom gap):
// the fake channel called it on every postMessage, so every message between
// fake tabs threw a ReferenceError there. It falls back to a JSON round trip.

const structuredCloneOf = globalThis.structuredClone;
afterEach(() => {
  globalThis.structuredClone = structuredCloneOf;
  vi.useRealTimers();
});

function withoutStructuredClone(): void {
  // @ts-expect-error: removed, as in jest-environment-jsdom
  delete globalThis.structuredClone;
  expect(typeof globalThis.structuredClone).toBe('undefined');
}

describe('the fake BroadcastChannel without a global structuredClone', () => {
  it('delivers a copy of what was posted', async () => {
    withoutStructuredClone();
    const hub = createBroadcastChannelHub();
    const [a, b] = [new hub.BroadcastChannel('c'), new hub.BroadcastChannel('c')];
    const heard: unknown[] = [];
    b.onmessage = (event) => heard.push(event.data);
    const message = { type: 'needs', services: ['tasks'] };
    a.postMessage('{"type":"hello"}');
    a.postMessage(message);
    await Promise.resolve();
    expect(heard).toEqual(['{"type":"hello"}', message]);
    expect(heard[1]).not.toBe(message);
    a.close();
    b.close();
  });

  it('relays events between the tabs of a fake browser', async () => {
    withoutStructuredClone();
    vi.useFakeTimers();
    const browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 60_000 }) });
    const tabs = [browser.tab(), browser.tab()];
    const seqs = tabs.map((tab) => {
      const seen: number[] = [];
      tab.subscribe('tasks', (events) => seen.push(...events.map((e) => e.seq)));
      return seen;
    });
    const errors: unknown[] = [];
    for (const tab of tabs) tab.on('error', (error) => errors.push(error));
    await vi.advanceTimersByTimeAsync(100);
    browser.backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(0);
    expect(seqs).toEqual([[1], [1]]);
    expect(errors).toEqual([]);
    await browser.close();
  });
});
