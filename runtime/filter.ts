import { compile, TreeInterpreter } from '@jmespath-community/jmespath';
import { InvalidArgumentError } from '../engine/errors.js';
import type { FilterSpec } from '../engine/records.js';

type Ast = ReturnType<typeof compile>;
export type Matcher = (value: unknown) => boolean;

/**
 * Compiles a subscriber's JMESPath filter. An expression that fails to evaluate on an event counts as
 * no match (Eventide's rule); one that fails to parse is an `invalid-argument` error at subscribe time.
 */
export function compileFilter(spec: FilterSpec | undefined): Matcher {
  if (!spec || spec.expressions.length === 0) return () => true;
  const asts: Ast[] = spec.expressions.map((expression) => {
    try {
      return compile(expression);
    } catch (e) {
      throw new InvalidArgumentError(
        `bad JMESPath filter ${JSON.stringify(expression)}: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  });
  const test = (ast: Ast, value: unknown): boolean => {
    try {
      return truthy(TreeInterpreter.search(ast, value as Parameters<typeof TreeInterpreter.search>[1]));
    } catch {
      return false;
    }
  };
  return spec.operator === 'any'
    ? (value) => asts.some((a) => test(a, value))
    : (value) => asts.every((a) => test(a, value));
}

/** JMESPath truthiness: false, null, empty string, array and object are false. */
function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}
