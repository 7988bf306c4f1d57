import { randomUUID } from 'node:crypto';
import { openMemoryStore } from '../../adapters/memory/index.js';
import { logStoreContract } from '../contract/log-store-contract.js';

logStoreContract('memory', () => {
  const url = `memory:${randomUUID()}`;
  return Promise.resolve({
    open: () => Promise.resolve(openMemoryStore(url)),
    cleanup: () => Promise.resolve(),
    persistent: true,
  });
});
