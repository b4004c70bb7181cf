/**
 * The `lanepool` command. `lanepool serve` runs the HTTP service until SIGTERM or SIGINT, then shuts
 * down gracefully and exits 0; a second SIGTERM or SIGINT during that shutdown exits at once with
 * 128 + the signal's number (130 for SIGINT, 143 for SIGTERM).
 * Exit codes: 0 clean, 1 failed to start or to shut down, 2 bad usage (a flag, --host that names no
 * local address, a --handler module that does not load), 130/143 forced.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, messageOf } from '../../shared/errors.ts';
import { configFromArgs, usage } from './config.ts';
import { startService } from './server.ts';

const FORCED_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function usageError(message: string): void {
  console.error(`lanepool: ${message}\nRun 'lanepool serve --help' for the flags.`);
  process.exitCode = 2;
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(usage());
    return;
  }
  if (command === '--version' || command === '-v' || command === 'version' || rest.includes('--version')) {
    console.log(version());
    return;
  }
  if (command !== 'serve') {
    console.error(`lanepool: unknown command ${JSON.stringify(command)}\n\n${usage()}`);
    process.exitCode = 2;
    return;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(usage());
    return;
  }
  let config;
  try {
    config = configFromArgs(rest);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    usageError(error.message);
    return;
  }
  let service;
  try {
    service = await startService(config);
  } catch (error) {
    if (error instanceof ConfigError) {
      usageError(error.message);
      return;
    }
    console.error(`lanepool: could not start: ${messageOf(error)}`);
    process.exitCode = 1;
    return;
  }
  const stop = (signal: keyof typeof FORCED_EXIT): void => {
    if (service.state() === 'shutting_down') {
      // The user asked twice: they would rather lose the grace period than wait it out.
      service.app.log.warn({ signal }, 'second signal during shutdown: exiting now');
      process.exit(FORCED_EXIT[signal]);
    }
    service.app.log.info({ signal }, 'signal received');
    service.shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        service.app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
