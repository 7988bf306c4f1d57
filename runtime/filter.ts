import { compile, TreeInterpreter } from '@jmespath-community/jmespath';
import { InvalidArgumentError } from '../engine/errors.js';
import type { FilterSpec, RecordOf } from '../engine/records.js';
import { filterView, toQueueEvent } from './queue-event.js';
import type { FilterPredicate } from './types.js';

type Ast = ReturnType<typeof compile>;
/** Whether a subscriber takes an event (else the event gets a `skipped` result). */
export type Matcher = (event: RecordOf<'event.published'>) => boolean;

/**
 * Compiles a subscriber's filter: its JMESPath expressions (over `{ id, queue, payload, headers,
 * publishedAt }`) and its predicates (called with the {@link QueueEvent}), combined by the operator. An
 * expression that fails to evaluate, or a predicate that throws (or returns a promise: predicates are
 * synchronous), counts as no match (Eventide's rule); an expression that fails to parse is an
 * `invalid-argument` error at subscribe time.
 */
export function compileFilter(
  spec: FilterSpec | undefined,
  predicates: readonly FilterPredicate[] = [],
): Matcher {
  const expressions = spec?.expressions ?? [];
  if (expressions.length === 0 && predicates.length === 0) return () => true;
  const asts: Ast[] = expressions.map((expression) => {
    try {
      return compile(expression);
    } catch (e) {
      throw new InvalidArgumentError(
        `bad JMESPath filter ${JSON.stringify(expression)}: ${(e as Error).message}`,
        { cause: e },
      );
    }
  });
  const tests: ((e: RecordOf<'event.published'>) => boolean)[] = [
    ...asts.map((ast) => (e: RecordOf<'event.published'>) => search(ast, filterView(e))),
    ...predicates.map((p) => (e: RecordOf<'event.published'>) => call(p, e)),
  ];
  return spec?.operator === 'any' ? (e) => tests.some((t) => t(e)) : (e) => tests.every((t) => t(e));
}

function search(ast: Ast, value: unknown): boolean {
  try {
    return truthy(TreeInterpreter.search(ast, value as Parameters<typeof TreeInterpreter.search>[1]));
  } catch {
    return false;
  }
}

function call(predicate: FilterPredicate, e: RecordOf<'event.published'>): boolean {
  try {
    const verdict: unknown = predicate(toQueueEvent(e));
    if (typeof (verdict as { then?: unknown } | null)?.then === 'function') {
      (verdict as Promise<unknown>).then(undefined, () => undefined); // no unhandled rejection
      warnAsync(predicate);
      return false;
    }
    return Boolean(verdict);
  } catch {
    return false;
  }
}

const warned = new WeakSet<FilterPredicate>();

/** An async predicate never matches: said once per predicate, as a process warning. */
function warnAsync(predicate: FilterPredicate): void {
  if (warned.has(predicate)) return;
  warned.add(predicate);
  process.emitWarning(
    `filter predicate ${predicate.name || '(anonymous)'} returned a promise: predicates must answer at once (it counts as no match)`,
    { code: 'EVENTY_FILTER_ASYNC' },
  );
}

/** JMESPath truthiness: false, null, empty string, array and object are false. */
function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}
