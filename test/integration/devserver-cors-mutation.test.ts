import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devserver';
import { MUTATION_ID_HEADER, newMutationId, withMutationId } from '../../src/optimistic/mutation-header';

// A page on another origin (the bundler's dev server, which getting-started.md
// says the dev server's CORS is for) sends its write with the mutation id
// header, as `withMutationId` / the hook's `ctx.init` add it. That header is
// not CORS-safelisted, so the browser asks first (preflight) and sends the
// write only if the answer lists it in Access-Control-Allow-Headers; otherwise
// fetch fails ("Failed to fetch" in Chromium) and the write rolls back as an
// error. examples/react/TaskBoard.tsx writes to /dev/publish exactly so.

describe('dev server CORS and the mutation id header', () => {
  let server: DevServer;
  beforeAll(async () => {
    server = await startDevServer({ heartbeatMs: 5000 });
  });
  afterAll(async () => {
    await server.close();
  });

  it('allows X-Realtime-Mutation-Id in a preflight, so a cross-origin write can carry it', async () => {
    const preflight = await fetch(`${server.url}/dev/publish`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'http://localhost:5173',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': `content-type,${MUTATION_ID_HEADER.toLowerCase()}`,
      },
    });
    expect(preflight.status).toBe(204);
    const allowed = (preflight.headers.get('access-control-allow-headers') ?? '')
      .split(',')
      .map((name) => name.trim().toLowerCase());
    expect(allowed).toContain(MUTATION_ID_HEADER.toLowerCase());
    expect(allowed).toContain('content-type');

    // And the write itself goes through with the header.
    const id = newMutationId();
    const answer = await fetch(
      `${server.url}/dev/publish`,
      withMutationId(
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', Origin: 'http://localhost:5173' },
          body: JSON.stringify({
            orgId: 'org_cors',
            event: { service: 'tasks', entityType: 'task', type: 'task.created', mutationId: id },
          }),
        },
        id,
      ),
    );
    expect(answer.status).toBe(200);
    expect(answer.headers.get('access-control-allow-origin')).toBe('*');
  });
});
