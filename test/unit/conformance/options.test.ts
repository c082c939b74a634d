import { describe, expect, it } from 'vitest';
import type { CheckBackendOptions } from '../../../src/conformance';
import { checkBackend } from '../../../src/conformance';

// Bad options of checkBackend reject before anything is sent, with an error
// that names the option and what it got (as src/util/validate.ts does for
// the client's options).

const good: CheckBackendOptions = {
  url: 'http://127.0.0.1:9/v2/realtime',
  publish: () => {},
  services: ['tasks', 'finance'],
};

describe('checkBackend options', () => {
  it('names the transports it got when one is unknown', async () => {
    await expect(
      checkBackend({ ...good, transports: ['ws'] as unknown as CheckBackendOptions['transports'] }),
    ).rejects.toThrow(
      new RangeError('checkBackend: transports must be one or more of websocket, sse, long-poll, got ["ws"]'),
    );
  });

  it('refuses no transports at all, which would check nothing', async () => {
    await expect(checkBackend({ ...good, transports: [] })).rejects.toThrow(
      new RangeError('checkBackend: transports must be one or more of websocket, sse, long-poll, got []'),
    );
  });

  it('names the service given twice', async () => {
    await expect(checkBackend({ ...good, services: ['tasks', 'finance', 'tasks'] })).rejects.toThrow(
      new RangeError('checkBackend: services has "tasks" twice'),
    );
  });

  it('asks for whole seconds of long-poll wait, as the client sends them', async () => {
    await expect(checkBackend({ ...good, pollWaitSeconds: 0.5 })).rejects.toThrow(
      new RangeError('checkBackend: pollWaitSeconds must be an integer from 1 to 3600, got 0.5'),
    );
  });
});
