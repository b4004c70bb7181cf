#!/usr/bin/env node
// The `lanepool` command, compiled: what the package's `bin` runs. No TypeScript loader is registered;
// a provider module written in TypeScript registers tsx in the workers that load it.
import { main } from './cli.ts';

await main(process.argv.slice(2));
