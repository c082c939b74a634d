import { describe, expect, it, vi } from 'vitest';
import { fakeBrowserEach } from '../tabs/fake-browser-each';

// The property filter is also the server's (PROTOCOL.md: a browser subscribes
// to the union of its tabs' filters, and a filtered connection is sent only
// the events it may see). So the echo of a write to another property reaches
// a browser only while some tab of it watches every property (or that one):
// in a browser whose every tab filters elsewhere, the mutation times out and
// `useOptimisticMutation` rolls back a write that landed. The docs said the
// property filter never kept an echo from counting; they now say when it does.
// These tests pin that behaviour, which docs/react.md describes.

const browserEach = fakeBrowserEach();

async function filteredTab() {
  const browser = browserEach();
  const a = browser.tab();
  a.subscribe('tasks', () => {});
  a.setPropertyFilter('p9');
  await vi.advanceTimersByTimeAsync(2000);
  expect(a.getState().status).toBe('connected');
  return { a, browser };
}

describe('the echo of a write to a property the browser does not receive', () => {
  it('never comes while every tab filters on another property: the mutation times out', async () => {
    const { a, browser } = await filteredTab();
    const m = a.trackMutation('m_1', { timeoutMs: 5000 });
    browser.backend.publish({ service: 'tasks', propertyId: 'p1', mutationId: 'm_1' });
    await vi.advanceTimersByTimeAsync(5000);
    expect(m.status()).toBe('timed_out');
  });

  it('counts in the filtered tab once another tab watches every property', async () => {
    const { a, browser } = await filteredTab();
    const b = browser.tab();
    b.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(2000);
    const m = a.trackMutation('m_1', { timeoutMs: 5000 });
    browser.backend.publish({ service: 'tasks', propertyId: 'p1', mutationId: 'm_1' });
    await vi.advanceTimersByTimeAsync(10);
    expect(m.status()).toBe('visible');
  });
});
