import { InvalidArgumentError } from './errors.js';

/**
 * A store URL safe to print: the whole userinfo (user and password, whatever characters they hold,
 * `@` and `/` included) replaced by `***`. URLs without one are returned as they are.
 * @example maskUrl('redis://default:s3cr@t@127.0.0.1:6379/0') // 'redis://***@127.0.0.1:6379/0'
 */
export function maskUrl(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url);
  if (!scheme) return url;
  const rest = url.slice(scheme[0].length);
  // The userinfo ends at the last "@" before the query or fragment: a password may hold "@" and "/".
  const query = rest.search(/[?#]/);
  const at = rest.lastIndexOf('@', query < 0 ? rest.length : query);
  return at < 0 ? url : `${scheme[0]}***@${rest.slice(at + 1)}`;
}

/**
 * The query parameters of a store URL, each given at most once: with one given twice
 * (`?retention=7d&retention=1s`) which value was meant is unknown, so the URL is refused rather than one
 * of them used. Every store's URL parser reads its parameters through this.
 * @param query the query string (without `?`) or the parsed parameters.
 * @param store the store's name in the message (`filesystem`, `redis`, …).
 * @param display the URL as it may be printed (see {@link maskUrl}).
 * @throws InvalidArgumentError naming the parameter given twice.
 */
export function storeUrlParams(
  query: string | URLSearchParams,
  store: string,
  display: string,
): URLSearchParams {
  const params = typeof query === 'string' ? new URLSearchParams(query) : query;
  const seen = new Set<string>();
  for (const name of params.keys()) {
    if (seen.has(name)) {
      throw new InvalidArgumentError(
        `${store} store URL parameter ${name} is given twice in ${display}: give each parameter once`,
      );
    }
    seen.add(name);
  }
  return params;
}
