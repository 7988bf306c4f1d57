import { InvalidArgumentError } from './errors.js';

/**
 * A record's place in its log: a non-negative integer, dense from 0 and strictly increasing in append
 * order, in every store (memory, filesystem, Redis). Printed as its decimal digits.
 */
export type Position = number;

/** The position a new, empty log starts at. */
export const START: Position = 0;

/** True when `value` is a valid position. */
export function isPosition(value: unknown): value is Position {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Prints a position so that {@link parsePosition} reads it back. */
export function formatPosition(position: Position): string {
  return String(position);
}

/**
 * Reads a printed position.
 * @throws InvalidArgumentError when `text` is not a non-negative integer.
 */
export function parsePosition(text: string): Position {
  if (!/^\d{1,16}$/.test(text)) {
    throw new InvalidArgumentError(`position must be a non-negative integer, got: ${JSON.stringify(text)}`);
  }
  const value = Number(text);
  if (!isPosition(value)) throw new InvalidArgumentError(`position is out of range, got: ${text}`);
  return value;
}

/** Checks a position given as an option and names the option when it is wrong. */
export function checkPosition(name: string, value: unknown): Position {
  if (!isPosition(value)) {
    throw new InvalidArgumentError(`${name} must be a non-negative integer position, got: ${String(value)}`);
  }
  return value;
}
