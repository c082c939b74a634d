import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// React 18, installed apart by scripts/ensure-react18.mjs (it cannot share
// node_modules with the React 19 the other tests use).
const react18 = fileURLToPath(new URL('./test/fixtures/react18/node_modules/', import.meta.url));

// Three projects so each kind of test can be run on its own and so the slow
// ones (real servers, real Chromium) never share a worker pool with unit tests.
export default defineConfig({
  test: {
    // Vitest's default is one worker fewer than the CPUs: one on this 2-core
    // machine, which ran the unit, react18 and integration files one by one
    // (about 270 s of the 10 minutes `npm test` may take). Their files wait
    // on timers and sockets as much as they compute, so two share the cores.
    // The Chromium projects stay one file at a time (fileParallelism below).
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/unit/**/*.test.tsx'],
          environment: 'node',
          // Worker threads that run each file in a fresh VM context, not a
          // fresh thread per file: isolation stays (each file gets its own
          // globals and module registry, vi.mock works as before), and the
          // ~220 small files no longer each pay a thread's start and Vitest's
          // set-up in it (a subset of 18 files: 61 s -> 22.5 s on a loaded
          // machine). The VM context is a realm of its own: an object Node
          // makes (structuredClone's result, an error Vitest throws) fails
          // `instanceof` and toStrictEqual against the test's own classes, so
          // tests compare such values by brand or copy them in the file
          // (builtins.test.ts, mutation-header.test.ts). A thread shares its
          // process's time zone: a `TZ` set in `process.env` there changes
          // nothing (retry-after.test.ts starts a Node process per zone for that).
          pool: 'vmThreads',
          // The CPU-bound property tests (parse, cursor, dedup window, frame
          // and channel readers) take up to 3 s each in a CI run, and over 5 s
          // when other jobs share the 2 cores: parse's took 6.7 s once and
          // failed CI. A timeout here only catches a hang.
          testTimeout: 20_000,
          // vi.unstubAllEnvs() before every test: a NODE_ENV "production"
          // stub (the production build's tests) whose afterEach never reached
          // its own unstub must not run the file's later tests with the
          // development checks off (test/unit/stub-env-reset.test.ts).
          unstubEnvs: true,
        },
      },
      {
        // The React adapter's tests again, on React 18: tabwire/react
        // promises 18 and 19. @testing-library/react is inlined, and taken
        // in its ESM build (its CJS main would require() past the aliases),
        // so that it, too, renders with React 18.
        resolve: {
          alias: [
            {
              find: /^@testing-library\/react$/,
              replacement: fileURLToPath(
                new URL(
                  './node_modules/@testing-library/react/dist/@testing-library/react.esm.js',
                  import.meta.url,
                ),
              ),
            },
            { find: /^react-dom(\/.*)?$/, replacement: `${react18}react-dom$1` },
            { find: /^react(\/.*)?$/, replacement: `${react18}react$1` },
          ],
        },
        test: {
          name: 'react18',
          include: ['test/unit/react/**/*.test.tsx'],
          environment: 'node',
          pool: 'vmThreads', // as the unit project's
          server: { deps: { inline: ['@testing-library/react'] } },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'browser',
          // Groups run one after another: the Chromium projects must not
          // share two cores with each other or with the Node suites.
          sequence: { groupOrder: 1 },
          include: ['test/browser/**/*.test.ts'],
          // One Chromium for all the files (each connects to it and closes
          // the contexts it made); see launchChromium in test/browser/chromium.ts.
          globalSetup: ['test/browser/global-setup.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 60_000,
          // One Chromium at a time: the machine has two cores and the timing
          // assertions (takeover, relay latency) need them.
          fileParallelism: false,
          // The files run one after another in one worker that keeps its
          // modules: a fresh worker per file re-imported Playwright, esbuild
          // and the dev server each time, about 1.5 s of every file. The
          // files share no state there: nothing is mocked or stubbed, and
          // each starts and closes its own dev server and Chromium
          // (setUpServerAndChromium); the code under test runs in the pages.
          isolate: false,
        },
      },
      {
        test: {
          name: 'chaos',
          sequence: { groupOrder: 2 },
          include: ['test/chaos/**/*.test.ts'],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
