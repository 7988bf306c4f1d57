import path from 'node:path';
import { distributedSuite } from '../contract/distributed.js';
import { makeTempDir } from '../support/temp.js';

distributedSuite('filesystem', async () => {
  const { dir, cleanup } = await makeTempDir('eventy-dist-');
  return { url: `file:${path.join(dir, 'log')}`, cleanup };
});
