import { describe, expect, it } from 'vitest';
import { startDevServer } from '../../src/devserver';
import { resolveDevServerOptions } from '../../src/devserver/options';
import { validatePublishInput } from '../../src/devserver/publish-input';
import type { DevServerOptions } from '../../src/devserver/types';
import { postJson } from './devserver-helpers';

// What a newcomer writing plain JavaScript against tabwire/devserver meets
// first: a misspelt option and an incomplete event. Each error says what is
// wrong and what is expected, as createRealtime's do.

/** Options as plain JavaScript would pass them: no type checks. */
const untyped = (options: unknown) => options as DevServerOptions;

describe('dev server options', () => {
  it('refuses a key that is no option, listing the known ones', async () => {
    expect(() => resolveDevServerOptions(untyped({ heartbeat: 1000 }))).toThrow(
      /^devserver option heartbeat does not exist; known: port, host, .*heartbeatMs/,
    );
    expect(() => resolveDevServerOptions(untyped({ quarantine: { durationMS: 5 } }))).toThrow(
      /devserver option quarantine\.durationMS does not exist; known: .*durationMs/,
    );
    expect(() => resolveDevServerOptions(untyped({ batchWindowMs: { min: 1, maximum: 5 } }))).toThrow(
      /batchWindowMs\.maximum does not exist; known: min, max/,
    );
    await expect(startDevServer(untyped({ prot: 8787 }))).rejects.toThrow(RangeError);
  });

  it('refuses options that are no object instead of ignoring them', () => {
    expect(() => resolveDevServerOptions(untyped(8787))).toThrow(
      /^startDevServer takes an options object \(e\.g\. \{ port: 8787 \}\), got 8787$/,
    );
    expect(() => resolveDevServerOptions(untyped({ batchWindowMs: 100 }))).toThrow(
      /devserver option batchWindowMs must be an object, got 100/,
    );
    // Absent groups keep their defaults.
    expect(resolveDevServerOptions(untyped({ quarantine: undefined })).quarantine.durationMs).toBe(30_000);
    expect(resolveDevServerOptions().port).toBe(0);
  });
});

describe('publish()', () => {
  it.each([
    [
      { service: 'tasks', type: 'task.created' },
      /^publish: event\.entityType must be a string, got undefined$/,
    ],
    [{ service: 'tasks', entityType: 'task' }, /^publish: event\.type must be a string, got undefined$/],
    [
      { service: 'a,b', entityType: 't', type: 'x' },
      /^publish: event\.service must be a service name: .*got "a,b"$/,
    ],
    [{ entityType: 't', type: 'x' }, /^publish: event\.service must be a service name: .*got undefined$/],
    [
      { service: 'tasks', entityType: 't', type: 'x', eventId: '' },
      /event\.eventId must be a non-empty string/,
    ],
    [
      { service: 'tasks', entityType: 't', type: 'x', propertyId: 5 },
      /event\.propertyId must be a string or null/,
    ],
    [{ service: 'tasks', entityType: 't', type: 'x', ts: Number.NaN }, /event\.ts must be a finite number/],
    ['tasks', /^publish: event must be an object with service, entityType and type, got "tasks"$/],
  ])('says what %j lacks', (event, message) => {
    expect(() => validatePublishInput('org_1', event)).toThrow(message);
  });

  it('shows the call shape when the org is left out', () => {
    expect(() => validatePublishInput({ service: 'tasks', entityType: 't', type: 'x' }, undefined)).toThrow(
      /^publish\(orgId, event\): orgId must be a non-empty string, got \{"service":"tasks"/,
    );
  });
});

describe('POST /dev/publish', () => {
  it('answers 400 with the same rule', async () => {
    const server = await startDevServer();
    try {
      const answer = await postJson(`${server.url}/dev/publish`, {
        orgId: 'org_1',
        event: { service: 'tasks' },
      });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({
        code: 'bad_request',
        message: 'event.entityType: must be a string',
      });
      const noOrg = await postJson(`${server.url}/dev/publish`, { event: { service: 'tasks' } });
      expect(noOrg.body).toMatchObject({ message: 'orgId: must be a non-empty string' });
    } finally {
      await server.close();
    }
  });
});
