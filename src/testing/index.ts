export type { MemoryBackend, MemoryBackendOptions, MemoryEventInput } from './memory-backend';
export { createMemoryBackend } from './memory-backend';
