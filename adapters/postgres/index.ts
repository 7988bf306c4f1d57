export { openPostgresStore } from './open-pg-store.js';
export { PostgresStore } from './pg-store.js';
export type { Queryable } from './pg-store.js';
export type { LogIdentity } from '../../engine/continuity.js';
export { PostgresConnectError } from './pg-errors.js';
export type { ConnectProblem } from './pg-errors.js';
export type { PostgresStoreOptions } from './pg-url.js';
export { parsePostgresUrl, DEFAULT_SEGMENT_RECORDS } from './pg-url.js';
