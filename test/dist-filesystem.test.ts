import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { distributedSuite } from './contract/distributed.js';

distributedSuite('filesystem', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'eventy-dist-'));
  return {
    url: `file:${path.join(root, 'log')}`,
    cleanup: () => fs.rm(root, { recursive: true, force: true }),
  };
});
