import { afterEach, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devserver';

// HTTP conventions (RFC 9110): a 405 names the methods the resource does
// serve in `Allow`, and HEAD answers as GET would, without the body. A load
// balancer or uptime check that probes /health with HEAD got a 405.
describe('dev server HEAD and 405 answers', () => {
  let server: DevServer | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('answers HEAD /health and HEAD /metrics as GET would, without a body', async () => {
    server = await startDevServer();
    for (const path of ['/health', '/metrics']) {
      const get = await fetch(`${server.url}${path}`);
      await get.text();
      const head = await fetch(`${server.url}${path}`, { method: 'HEAD' });
      expect(head.status, path).toBe(200);
      expect(head.headers.get('content-type')).toBe(get.headers.get('content-type'));
      expect(await head.text()).toBe('');
    }
  });

  it('names the allowed methods in Allow on every 405', async () => {
    server = await startDevServer();
    const cases: [string, string, string][] = [
      ['POST', '/health', 'GET, HEAD, OPTIONS'],
      ['DELETE', '/metrics', 'GET, HEAD, OPTIONS'],
      ['POST', '/stream', 'GET, OPTIONS'],
      ['HEAD', '/stream', 'GET, OPTIONS'],
      ['HEAD', '/poll', 'GET, OPTIONS'],
      ['GET', '/update-services', 'POST, OPTIONS'],
      ['PUT', '/dev/publish', 'POST, OPTIONS'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await fetch(`${server.url}${path}`, { method });
      await res.text();
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('allow'), `${method} ${path}`).toBe(allow);
    }
    // A HEAD of the stream or of a poll opens no connection.
    expect(server.metrics().totalConnections).toBe(0);
  });
});
