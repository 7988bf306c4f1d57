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
