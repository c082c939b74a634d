import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devserver';
import { until } from './devserver-helpers';

/** Writes raw bytes to the server and reads everything it answers until it closes. */
function rawExchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      answer += chunk;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
  });
}

// Requests Node cannot parse never reach the router; the dev server answers
// them with the status Node's own default handler gives (RFC 6585 for a
// header section too large), so a client or proxy in front of it can tell a
// request too big from one that is malformed.
describe('dev server answers to requests it cannot parse', () => {
  let server: DevServer | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('a header section over the limit is 431, a malformed request 400', async () => {
    server = await startDevServer();
    const huge = await rawExchange(
      server.port,
      `GET /v2/realtime/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(huge).toMatch(/^HTTP\/1\.1 431 /);
    const malformed = await rawExchange(server.port, 'NOT A REQUEST\r\n\r\n');
    expect(malformed).toMatch(/^HTTP\/1\.1 400 /);
    // The server still answers normally.
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  it('bytes that do not parse after an SSE request end the stream without writing into it', async () => {
    server = await startDevServer();
    const socket = connect(server.port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      answer += chunk;
    });
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(
      'GET /v2/realtime/stream?services=tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer dev:o:u\r\n\r\n',
    );
    await until(() => answer.includes('event: welcome'), 3000, 'welcome');
    socket.write('GARBAGE\r\n\r\n');
    await closed;
    // One answer on the socket: the stream's. A second status line in its
    // chunked body would be read as a broken chunk, not as an answer.
    expect(answer.match(/HTTP\/1\.1 /g)).toEqual(['HTTP/1.1 ']);
    expect(answer).not.toContain('400 Bad Request');
    await until(() => server?.metrics().activeConnections === 0, 3000, 'stream forgotten');
  });
});
