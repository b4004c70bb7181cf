/**
 * The service once built: owns its start (listening) and its stop (draining, handing over, closing),
 * and the state the routes and /readyz report.
 *
 *   starting ─► start() ─► ready ─► shutdown() ─► shutting_down ─► closed
 */
import type { FastifyInstance } from 'fastify';
import { ConfigError } from '../../shared/errors.ts';
import type { ServiceConfig } from './config.ts';
import type { IntentBackend } from './intent-backend.ts';
import type { ServiceState } from './route-context.ts';
import type { ServicePool } from './service-pool.ts';

export interface Service {
  /** e.g. http://127.0.0.1:8787 */
  readonly url: string;
  readonly app: FastifyInstance;
  readonly pool: ServicePool;
  state(): ServiceState;
  /**
   * Stops accepting intents (503), drains for up to `graceMs`, cancels what is left (reason
   * `service shutting down`), closes the pool and the server. Idempotent.
   */
  shutdown(): Promise<void>;
}

/** listen() errors that mean the --host value names no address of this machine. */
const BAD_HOST_CODES = new Set(['EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EINVAL']);

export interface ServiceParts {
  config: ServiceConfig;
  app: FastifyInstance;
  pool: ServicePool;
  intents: IntentBackend;
  /** Undoes what the builder set up beside the app and the pool (log subscriptions, the span exporter). */
  release(): Promise<void>;
}

export class RunningService implements Service {
  readonly app: FastifyInstance;
  readonly pool: ServicePool;
  readonly #config: ServiceConfig;
  readonly #intents: IntentBackend;
  readonly #release: () => Promise<void>;
  #url = '';
  #state: ServiceState = 'starting';
  #shuttingDown: Promise<void> | undefined;

  constructor(parts: ServiceParts) {
    this.app = parts.app;
    this.pool = parts.pool;
    this.#config = parts.config;
    this.#intents = parts.intents;
    this.#release = parts.release;
  }

  get url(): string {
    return this.#url;
  }

  state(): ServiceState {
    return this.#state;
  }

  /**
   * Listens, then accepts intents. On failure everything is closed again.
   * @throws ConfigError naming --host if it names no address of this machine.
   */
  async start(): Promise<this> {
    const config = this.#config;
    try {
      this.#url = await this.app.listen({ port: config.port, host: config.host });
    } catch (error) {
      await this.#intents.stop(0);
      await this.pool.close({ force: true });
      await this.#release();
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string' && BAD_HOST_CODES.has(code)) {
        throw new ConfigError({ detail: `invalid --host (LANEPOOL_HOST): cannot listen on ${JSON.stringify(config.host)}: ${(error as Error).message}` });
      }
      throw error;
    }
    this.#state = 'ready';
    return this;
  }

  shutdown(): Promise<void> {
    return (this.#shuttingDown ??= this.#shutdown());
  }

  async #shutdown(): Promise<void> {
    const { app, pool } = this;
    this.#state = 'shutting_down';
    app.log.info({ graceMs: this.#config.graceMs }, 'shutting down: draining');
    // JetStream mode: hand the partitions over first (each drains within the grace period); what is
    // cancelled then was never acknowledged, so the next owner runs it.
    await this.#intents.stop(this.#config.graceMs);
    try {
      await pool.drain({ timeoutMs: this.#config.graceMs });
    } catch {
      const busy = pool.busyKeys();
      app.log.warn({ threads: busy.length }, 'grace period over: cancelling what is left');
      for (const threadId of busy) pool.cancel(threadId, 'service shutting down');
    }
    await pool.close({ force: true });
    // Let ?wait=true requests whose intents just settled write their responses before closing.
    await new Promise((resolve) => setImmediate(resolve));
    await app.close();
    await this.#release(); // flushes the spans of the last intents
    this.#state = 'closed';
    app.log.info('shut down');
  }
}
