/**
 * @deprecated The dispatch fold lives in projections/dispatch/ (one module per concern); import
 * `./dispatch/index.js`. Kept so that imports of this path keep working while they move.
 * @module
 */
export * from './dispatch/index.js';
