export { openMemoryStore, MemoryStore } from './memory-store.js';
