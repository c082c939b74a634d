import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devserver';

/** A GET whose path is sent exactly as written (fetch would normalise `..`). */
function rawGet(origin: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${origin}/`, { path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('dev server static files', () => {
  let server: DevServer;
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tabwire-static-'));
    await mkdir(join(root, 'site', 'lib'), { recursive: true });
    await writeFile(join(root, 'secret.txt'), 'TOP SECRET');
    await writeFile(join(root, 'site', 'index.html'), '<h1>demo</h1>');
    await writeFile(join(root, 'site', 'lib', 'app.mjs'), 'export {};');
    await writeFile(join(root, 'site', 'style.css'), 'h1{}');
    server = await startDevServer({ static: { '/demo': join(root, 'site') } });
  });
  afterAll(async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
  });

  it('serves files under the prefix with their content type, and index.html for a directory', async () => {
    const index = await fetch(`${server.origin}/demo/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await index.text()).toBe('<h1>demo</h1>');
    const mjs = await fetch(`${server.origin}/demo/lib/app.mjs`);
    expect(mjs.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await mjs.text()).toBe('export {};');
    expect((await fetch(`${server.origin}/demo/style.css`)).headers.get('content-type')).toBe(
      'text/css; charset=utf-8',
    );
    expect((await fetch(`${server.origin}/demo/missing.js`)).status).toBe(404);
    expect((await fetch(`${server.origin}/demo/style.css`, { method: 'POST' })).status).toBe(405);
  });

  it('refuses every way out of the directory', async () => {
    for (const path of [
      '/demo/../secret.txt',
      '/demo/..%2fsecret.txt',
      '/demo/%2e%2e/secret.txt',
      '/demo/lib/..%5c..%5csecret.txt',
    ]) {
      const res = await rawGet(server.origin, path);
      expect(res.status, path).toBe(403);
      expect(res.body).not.toContain('TOP SECRET');
    }
    expect((await rawGet(server.origin, '/demo/%E0%A4%A')).status).toBe(400);
  });

  it('the realtime endpoints still answer next to the static mount', async () => {
    expect(await (await fetch(`${server.url}/health`)).json()).toEqual({ ok: true });
  });
});
