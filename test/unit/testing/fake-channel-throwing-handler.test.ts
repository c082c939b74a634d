import { afterEach, describe, expect, it } from 'vitest';
import { createBroadcastChannelHub } from '../../../src/testing';

const listeners: Array<(error: unknown) => void> = [];
afterEach(() => {
  for (const l of listeners.splice(0)) process.off('uncaughtException', l);
});

// Browsers queue one task per receiving channel: a handler that throws is
// reported, and the other channels still get the message. The fake delivered
// to all of them in one microtask, so one throwing `onmessage` (an app's
// own bug, or a test's spy) silently kept the message from the tabs after it.
describe('createBroadcastChannelHub with a handler that throws', () => {
  it('still delivers to the other channels, and reports the error', async () => {
    const reported: unknown[] = [];
    const onError = (error: unknown) => reported.push(error);
    listeners.push(onError);
    process.on('uncaughtException', onError);

    const hub = createBroadcastChannelHub();
    const sender = new hub.BroadcastChannel('n');
    const thrower = new hub.BroadcastChannel('n');
    const after = new hub.BroadcastChannel('n');
    thrower.onmessage = () => {
      throw new Error('handler bug');
    };
    const got: unknown[] = [];
    after.onmessage = (e) => got.push(e.data);

    sender.postMessage('one');
    sender.postMessage('two');
    await new Promise((r) => setTimeout(r, 0));

    expect(got).toEqual(['one', 'two']);
    expect(reported).toEqual([new Error('handler bug'), new Error('handler bug')]);
  });
});
