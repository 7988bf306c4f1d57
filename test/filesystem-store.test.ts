import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openFileStore } from '../adapters/filesystem/index.js';
import { logStoreContract } from './contract/log-store-contract.js';

for (const durability of ['batch', 'always', 'never'] as const) {
  logStoreContract(`filesystem (${durability}, small segments)`, async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'eventy-fs-'));
    const dir = path.join(root, 'log');
    return {
      open: () => openFileStore(`file:${dir}`, { durability, segmentBytes: 1024, pollMs: 20 }),
      cleanup: () => fs.rm(root, { recursive: true, force: true }),
      persistent: true,
    };
  });
}
