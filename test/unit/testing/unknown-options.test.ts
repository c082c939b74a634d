import { describe, expect, it } from 'vitest';
import { createFakeBrowser, createMemoryBackend } from '../../../src/testing';

// A misspelt key must not pass as "no options": the test would run on the
// defaults it meant to change. createRealtime and startDevServer refuse one;
// the testing helpers refuse one in the same words as createRealtime.
/** What `call` throws (vitest's toThrow(error) compares only the message). */
function thrown(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('the testing helpers refuse unknown option keys', () => {
  it('createFakeBrowser names the key and lists the known ones', () => {
    const misspelt = { default: { appKey: 'a' } } as unknown as Parameters<typeof createFakeBrowser>[0];
    const error = thrown(() => createFakeBrowser(misspelt));
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toBe(
      'default is not a createFakeBrowser option (did you mean defaults?); known: backend, defaults',
    );
  });

  it('createMemoryBackend names the key and lists the known ones', () => {
    const misspelt = { heartbeat: 1000 } as unknown as Parameters<typeof createMemoryBackend>[0];
    const error = thrown(() => createMemoryBackend(misspelt));
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toBe(
      'heartbeat is not a createMemoryBackend option (did you mean heartbeatMs?); known: orgId, heartbeatMs, now',
    );
  });

  it('still take their known options, and none', () => {
    const backend = createMemoryBackend({ orgId: 'org_x', heartbeatMs: 1000, now: () => 0 });
    expect(backend.publish({ service: 'tasks' }).orgId).toBe('org_x');
    const browser = createFakeBrowser({ backend, defaults: { appKey: 'a' } });
    expect(browser.backend).toBe(backend);
    expect(createFakeBrowser().backend).toBeDefined();
  });
});
