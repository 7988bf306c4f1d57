import { InvalidArgumentError } from '../engine/errors.js';

/** The longest queue or subscriber name, in UTF-16 code units. */
export const MAX_NAME_LENGTH = 200;

// C0 controls, DEL, C1 controls, lone surrogates
const UNPRINTABLE =
  // eslint-disable-next-line no-control-regex -- control characters are what it finds
  /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Checks a queue or subscriber name at the API edge, before anything is appended: a non-empty string of
 * at most {@link MAX_NAME_LENGTH} printable characters. Names reach every terminal that tails the log and
 * every key and file name a store derives from them, so control characters (line breaks, escape
 * sequences, NUL) are refused.
 * @throws InvalidArgumentError naming the value and what is expected.
 */
export function checkName(kind: 'queue' | 'subscriber' | 'schedule', name: unknown): string {
  if (typeof name !== 'string' || name === '' || name.length > MAX_NAME_LENGTH) {
    throw new InvalidArgumentError(
      `${kind} name must be a non-empty string of at most ${MAX_NAME_LENGTH} characters, got: ${JSON.stringify(name)}`,
    );
  }
  if (UNPRINTABLE.test(name)) {
    throw new InvalidArgumentError(
      `${kind} name must be printable (no control characters such as line breaks, escape or NUL), got: ${JSON.stringify(name)}`,
    );
  }
  return name;
}
