/**
 * The agent's JSON body parser: secure-json-parse (what fastify uses) with prototype and
 * constructor poisoning refused (`protoAction`/`constructorAction: 'error'`), and a nesting
 * limit, each refused with a 400 that says what was wrong. Fastify's own parser answers every
 * such body with "Body is not valid JSON", and a body nested 5,000 deep reached our field
 * rendering (and its recursion) as a 500.
 */
import secureJson from 'secure-json-parse';
import { HttpError } from './http-errors.js';

/** @defaultValue 32: the deepest valid body (`{"addresses":["..."]}`) nests 2. */
export const HTTP_JSON_DEPTH_MAX = 32;

/** True when `value` nests deeper than `max` arrays and objects (iterative: no recursion limit). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [next, depth] = stack.pop() as [unknown, number];
    if (typeof next !== 'object' || next === null) continue;
    if (depth + 1 > max) return true;
    for (const child of Object.values(next)) stack.push([child, depth + 1]);
  }
  return false;
}

/** Parses a request body; throws a 400 HttpError naming what was refused. */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '')
    throw new HttpError(
      400,
      'ERR_HTTP_BAD_REQUEST',
      'empty body with content-type application/json: send a JSON object, or no content-type',
    );
  let value: unknown;
  try {
    value = secureJson.parse(text, undefined, {
      protoAction: 'error',
      constructorAction: 'error',
    });
  } catch (err) {
    const message = (err as Error).message;
    if (/forbidden (prototype|constructor) property/.test(message))
      throw new HttpError(
        400,
        'ERR_HTTP_BAD_REQUEST',
        `body refused: it has a "__proto__" or "constructor.prototype" key, which could change the prototype of every object (prototype poisoning); no Shoal field has that name`,
      );
    throw new HttpError(400, 'ERR_HTTP_BAD_REQUEST', `body is not valid JSON: ${message}`);
  }
  if (nestsDeeperThan(value, HTTP_JSON_DEPTH_MAX))
    throw new HttpError(
      400,
      'ERR_HTTP_BAD_REQUEST',
      `body refused: it nests deeper than ${HTTP_JSON_DEPTH_MAX} levels of arrays and objects`,
    );
  return value;
}
