import path from 'node:path';
import { runtimeContract } from '../contract/runtime-contract.js';
import { tempDir } from '../support/temp.js';

// A fresh directory per log, removed after the test.
runtimeContract({
  name: 'filesystem',
  url: async () => `file:${path.join(await tempDir('eventy-rt-'), 'log')}`,
});
