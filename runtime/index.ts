export { createManager, QueueManager } from './manager.js';
export type { ManagerOptions, Inspection, HostedRow } from './manager.js';
export { Queue } from './queue.js';
export type { QueueOptions } from './queue.js';
export { Subscriber } from './subscriber.js';
export type { Subscription } from './subscriber.js';
export type * from './types.js';
