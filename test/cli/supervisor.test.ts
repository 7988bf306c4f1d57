import { describe, expect, it } from 'vitest';
import { WORKER_HEAP_FLAGS, workerHeapFlags } from '../../cli/supervisor.js';

describe('worker heap flags', () => {
  it('gives workers the heap settings unless node arguments or NODE_OPTIONS set them', () => {
    expect(workerHeapFlags([], '')).toEqual(WORKER_HEAP_FLAGS);
    expect(workerHeapFlags(['--max-semi-space-size=32'], '')).toEqual(['--heap-growing-percent=150']);
    expect(workerHeapFlags([], '--enable-source-maps --heap_growing_percent=100')).toEqual([
      '--max-semi-space-size=8',
    ]);
    expect(workerHeapFlags(['--import', 'tsx'], undefined)).toEqual(WORKER_HEAP_FLAGS);
  });
});
