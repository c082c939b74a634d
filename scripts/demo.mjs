#!/usr/bin/env node
// `npm start`: bundles the vanilla and React examples, starts the dev server
// on 127.0.0.1 serving them (vanilla at /, React at /react/), and publishes a
// few events a second. The examples are bundled from src with the property
// mangling dist ships with (scripts/mangle.mjs).
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { startDevServer } from '../dist/devserver.js';
import { mangleOptions } from './mangle.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, '.tmp', 'examples', 'vanilla');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(root, 'examples/vanilla/main.ts')],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  outfile: join(out, 'main.js'),
  ...mangleOptions,
  alias: { tabwire: join(root, 'src/index.ts'), 'tabwire/vanilla': join(root, 'src/vanilla/index.ts') },
  logLevel: 'warning',
});

// The React example: esbuild bundles the .tsx itself (tsconfig's `jsx: react-jsx`).
const reactOut = join(root, '.tmp', 'examples', 'react');
mkdirSync(reactOut, { recursive: true });
await build({
  entryPoints: [join(root, 'examples/react/main.tsx')],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  outfile: join(reactOut, 'main.js'),
  ...mangleOptions,
  alias: {
    tabwire: join(root, 'src/index.ts'),
    'tabwire/react': join(root, 'src/react/index.ts'),
  },
  logLevel: 'warning',
});

const port = Number(process.env.PORT ?? 8787);
const server = await startDevServer({
  port,
  static: {
    '/': join(root, 'examples/vanilla'),
    '/_build/': out,
    '/react/': join(root, 'examples/react'),
    '/react/_build/': reactOut,
  },
});

const properties = ['prop_1', 'prop_2', null];
let n = 0;
const timer = setInterval(() => {
  n++;
  const service = n % 4 === 0 ? 'activity' : 'tasks';
  server.publish('org_demo', {
    service,
    entityType: service === 'tasks' ? 'task' : 'activity',
    type: service === 'tasks' ? 'task.updated' : 'activity.logged',
    propertyId: properties[n % properties.length],
    data: { id: `t_${n % 10}`, title: `Task ${n % 10}`, n },
  });
}, 400);

console.log(
  `tabwire demo: open ${server.origin}/ (vanilla) or ${server.origin}/react/ (React), each in a second tab too. Ctrl+C stops.`,
);
const stop = async () => {
  clearInterval(timer);
  await server.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
