export * from './errors.js';
export * from './position.js';
export * from './records.js';
export type * from './storage.js';
export { formatIdentity } from './continuity.js';
export type { LogIdentity } from './continuity.js';
export {
  encodeFrame,
  encodeBatch,
  encodeRecord,
  decodeRecord,
  scanFrames,
  scanBatches,
  FRAME_HEADER,
  MAX_RECORD_BYTES,
} from './codec.js';
export type { FrameScan, BatchScan } from './codec.js';
export { maskUrl } from './store-url.js';
export { parseDuration, parseByteSize, parseRetention } from './retention.js';
export { snapshotRef, snapshotRefPosition } from './snapshot-ref.js';
