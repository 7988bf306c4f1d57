/**
 * Eventy: distributed task processing on an append-only, replayable log.
 * @packageDocumentation
 */
export * from './engine/index.js';
export { openStore, defaultStoreUrl } from './adapters/open-store.js';
export type { OpenStoreOptions } from './adapters/open-store.js';
