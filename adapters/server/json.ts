/**
 * JSON of a record as the feed, `/records` and the timeline send it. Payloads are CBOR in the log, so
 * they may hold what JSON has no word for: bigints become decimal strings, bytes base64 strings.
 */
export function recordJson(value: unknown): string {
  // A replacer takes JSON.stringify off its fast path (several times slower, and the feed serialises
  // every record): walk the value first, and use the replacer only when something needs it.
  return plainJson(value) ? JSON.stringify(value) : JSON.stringify(value, replacer);
}

/**
 * JSON of an array of records, `[…]`: one JSON.stringify for the whole array when no record needs the
 * replacer (the common case, and several times cheaper than a call per record and a join).
 */
export function recordsJson(values: readonly unknown[], each: (v: unknown) => string = recordJson): string {
  return values.every(plainJson) ? JSON.stringify(values) : `[${values.map(each).join(',')}]`;
}

/** True when `value` holds no bigint and no byte array: JSON.stringify alone renders it as we mean. */
function plainJson(value: unknown): boolean {
  if (typeof value === 'bigint') return false;
  if (typeof value !== 'object' || value === null) return true;
  if (ArrayBuffer.isView(value)) return false;
  if (Array.isArray(value)) return value.every(plainJson);
  for (const key in value) if (!plainJson((value as Record<string, unknown>)[key])) return false;
  return true;
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return value;
}
