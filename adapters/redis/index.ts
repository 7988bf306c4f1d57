export { openRedisStore, fromRedis } from './open-redis-store.js';
export { RedisStore } from './redis-store.js';
export type { SegmentInfo } from './redis-segments.js';
export type { RedisStoreOptions } from './redis-url.js';
export { parseRedisUrl, DEFAULT_SEGMENT_RECORDS } from './redis-url.js';
