import { describe, expect, it, vi } from 'vitest';

// The production-mode tests switch the development-only checks off with
// vi.stubEnv('NODE_ENV', 'production'). vitest.config.ts (`unstubEnvs`)
// undoes every stub before the next test, also when the test's own clean-up
// did not run (an afterEach that threw before its vi.unstubAllEnvs()): a
// stub left behind would run the file's later tests with the checks off, and
// one that expects no error would pass for the wrong reason.
describe('vi.stubEnv in the unit project', () => {
  it('stubs NODE_ENV and leaves it stubbed, as a test whose clean-up failed', () => {
    vi.stubEnv('NODE_ENV', 'production');
    expect(process.env.NODE_ENV).toBe('production');
  });

  it('finds it undone in the next test', () => {
    expect(process.env.NODE_ENV).toBe('test');
  });
});
