/**
 * The `lanepool` command. `lanepool serve` runs the HTTP service until SIGTERM or SIGINT, then shuts
 * down gracefully and exits 0. Exit codes: 0 clean, 1 failed to start or to shut down, 2 bad usage.
 */
import { ConfigError } from '../shared/errors.ts';
import { configFromArgs, usage } from './service/config.ts';
import { startService } from './service/server.ts';

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(usage());
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
    console.error(`lanepool: ${error.message}\nRun 'lanepool serve --help' for the flags.`);
    process.exitCode = 2;
    return;
  }
  let service;
  try {
    service = await startService(config);
  } catch (error) {
    console.error(`lanepool: could not start: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
    return;
  }
  const stop = (signal: string): void => {
    service.app.log.info({ signal }, 'signal received');
    service.shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        service.app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
