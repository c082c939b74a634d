export type { FakeBrowser, FakeBrowserOptions, FakeTabDocument, FakeTabOptions } from './fake-browser';
export { createFakeBrowser, globalTimersClock } from './fake-browser';
export type {
  BroadcastChannelHub,
  FakeBroadcastChannel,
  FakeBroadcastChannelConstructor,
} from './fake-channel';
export { createBroadcastChannelHub } from './fake-channel';
export type { FakeLock, FakeLockOptions, FakeLockSnapshot } from './fake-locks';
export { FakeLockManager } from './fake-locks';
export type { MemoryBackend, MemoryBackendOptions, MemoryEventInput } from './memory-backend';
export { createMemoryBackend } from './memory-backend';
export type { MemoryStorageOptions, StorageChange } from './memory-storage';
export { MemoryStorage } from './memory-storage';
