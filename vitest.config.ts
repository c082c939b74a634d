import { defineConfig } from 'vitest/config';

// Three projects so each kind of test can be run on its own and so the slow
// ones (real servers, real Chromium) never share a worker pool with unit tests.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/unit/**/*.test.tsx'],
          environment: 'node',
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
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 60_000,
          // One Chromium at a time: the machine has two cores and the timing
          // assertions (takeover, relay latency) need them.
          fileParallelism: false,
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
