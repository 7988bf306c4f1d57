import { randomUUID } from 'node:crypto';
import { openMemoryStore } from '../../adapters/memory/index.js';
import { logStoreContract } from '../contract/log-store-contract.js';

logStoreContract('memory', () => {
  // Segments of 8 records: the retention cases remove several.
  const url = `memory:${randomUUID()}?segmentRecords=8`;
  return Promise.resolve({
    open: () => Promise.resolve(openMemoryStore(url)),
    cleanup: () => Promise.resolve(),
    persistent: true,
  });
});
