/**
 * Bearer-token check for the agent's mutating endpoints. Both sides are hashed to a fixed
 * length before `timingSafeEqual`, so the comparison time depends on neither the token's
 * content nor its length.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpError } from './http-errors.js';

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Returns a checker for `Authorization` headers; with no token configured it accepts all. */
export function bearerChecker(token: string | undefined): (header: string | undefined) => void {
  if (token === undefined) return () => undefined;
  const expected = digest(token);
  return (header) => {
    const match = header === undefined ? null : /^Bearer (\S+)$/i.exec(header);
    if (match === null)
      throw new HttpError(
        401,
        'ERR_UNAUTHORIZED',
        'this agent requires a bearer token for POST endpoints: send Authorization: Bearer <token> (shoal ... --http-token or SHOAL_HTTP_TOKEN)',
      );
    if (!timingSafeEqual(digest(match[1] as string), expected))
      throw new HttpError(401, 'ERR_UNAUTHORIZED', 'the bearer token is wrong');
  };
}
