/**
 * Eventy's HTTP server (`eventy/server`): REST mirroring the queue API, a lossless live feed, and the
 * dashboard page. It drives only the public API of the root package.
 * @packageDocumentation
 */
export { serve, isLoopback, type ServeOptions, type EventyServer } from './serve.js';
export { LAGGING_CLOSE } from './routes-feed.js';
