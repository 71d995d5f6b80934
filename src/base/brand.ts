/**
 * Branded primitives: a number or string that the type checker keeps apart from plain values,
 * so that a `Millis` is never passed where an `Incarnation` is expected. Zero cost at run time.
 */
declare const BRAND: unique symbol;
export type Brand<T, Name extends string> = T & { readonly [BRAND]: Name };
