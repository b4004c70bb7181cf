// The file piscina loads in each worker when the package runs from its TypeScript sources (vitest,
// tsx scripts); from dist/ the compiled entry.js is loaded instead. Piscina cannot load a .ts file
// itself (ERR_UNKNOWN_FILE_EXTENSION, even with --import tsx), so this plain module registers tsx's
// ESM hooks first; after that the shard runtime and a handler written in TypeScript both import normally.
import { register } from 'tsx/esm/api';

register();
const { attach } = await import('./attach.ts');

export default attach;
