export { createManager, QueueManager } from './manager.js';
export type { ManagerOptions, Inspection, HostedRow, QueueSummary } from './manager.js';
export { Queue } from './queue.js';
export type { QueueOptions } from './queue.js';
export { Subscriber } from './subscriber.js';
export { skip, Skip } from './skip.js';
export type { Hooks, HookInfo } from './hooks.js';
export type { Subscription } from './subscriber.js';
export type * from './types.js';
export type { ScheduleInfo } from './schedule-api.js';
export type { DeadEvent, DeadEventFilters } from './redrive.js';
export type { ScheduleOptions } from './schedule-options.js';
export type { SchedulerOptions } from './scheduler.js';
export { defineWorker, handler, isWorkerDefinition, startWorker } from './worker-definition.js';
export type {
  HandlerDefinition,
  HandlerOptions,
  StartWorkerOptions,
  WorkerDefinition,
} from './worker-definition.js';
export type { SnapshotTakenInfo } from './snapshot-writer.js';
export { BAD_SNAPSHOT, replayStart } from './snapshot-start.js';
