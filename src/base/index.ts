/** The `base` folder's public pieces: imports nothing else of Shoal's. */
export * from './assert.js';
export * from './brand.js';
export * from './errors.js';
export * from './hex.js';
export * from './limits.js';
export * from './rng.js';
export * from './time.js';
export * from './address.js';
export * from './utf8.js';
