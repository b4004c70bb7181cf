/**
 * The file piscina loads in each worker when the package runs from dist/: the shard runtime, compiled,
 * with no loader registered. (From the sources, entry.mjs registers tsx first and is loaded instead.)
 */
export { attach as default } from './attach.ts';
