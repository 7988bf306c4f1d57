/**
 * JSON of a record as the feed, `/records` and the timeline send it. Payloads are CBOR in the log, so
 * they may hold what JSON has no word for: bigints become decimal strings, bytes base64 strings.
 */
export function recordJson(value: unknown): string {
  return JSON.stringify(value, replacer);
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return value;
}
