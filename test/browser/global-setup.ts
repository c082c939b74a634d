import type { TestProject } from 'vitest/node';
import { launchChromiumServer } from './chromium';

/** One Chromium for the browser project's files (see `launchChromium` in chromium.ts). */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await launchChromiumServer();
  project.provide('chromiumWsEndpoint', server.wsEndpoint());
  return () => server.close();
}
