import fs from 'node:fs/promises';
import path from 'node:path';
import { openFileStore } from '../../adapters/filesystem/index.js';
import { logStoreContract } from '../contract/log-store-contract.js';
import { makeTempDir } from '../support/temp.js';

for (const durability of ['batch', 'always', 'never'] as const) {
  logStoreContract(`filesystem (${durability}, small segments)`, async () => {
    const { dir: root, cleanup } = await makeTempDir('eventy-fs-');
    const dir = path.join(root, 'log');
    return {
      open: () => openFileStore(`file:${dir}`, { durability, segmentBytes: 1024, pollMs: 20 }),
      cleanup,
      persistent: true,
      lose: () => fs.rm(dir, { recursive: true, force: true }),
    };
  });
}
