/** JetStream-mode test set-up: one real nats-server per test file, services on ephemeral ports. */
import type { ConsumerInfo, NatsConnection } from 'nats';
import { startNatsServer, type NatsServer } from '../../scripts/jetstream/nats-server.ts';
import type { Service } from '../../src/main/service/server.ts';
import type { ServiceConfig } from '../../src/main/service/config.ts';
import { http, startTestService } from '../service/helpers.ts';

export { startNatsServer, type NatsServer };

let streams = 0;

/** A stream name of its own per test, so tests sharing a server do not see each other's partitions. */
export function freshStream(): string {
  return `T${process.pid}_${++streams}`;
}

export function startNatsService(nats: NatsServer, stream: string, instanceId: string, overrides: Partial<ServiceConfig> = {}): Promise<Service> {
  return startTestService({ nats: nats.url, natsStream: stream, instanceId, leaseTtlMs: 1000, ...overrides });
}

/** Services started on one test file's nats-server, shut down together in its afterAll. */
export class ServiceSet {
  readonly #services: Service[] = [];
  readonly #nats: () => NatsServer;

  constructor(nats: () => NatsServer) {
    this.#nats = nats;
  }

  async start(stream: string, instanceId: string, overrides: Partial<ServiceConfig> = {}): Promise<Service> {
    const service = await startNatsService(this.#nats(), stream, instanceId, overrides);
    this.#services.push(service);
    return service;
  }

  async shutdownAll(): Promise<void> {
    await Promise.all(this.#services.map((service) => service.shutdown()));
  }
}

/** The partitions the instance consumes, from GET /readyz. */
export async function ownedBy(service: Service): Promise<number[]> {
  const reply = await http(service, 'GET', '/readyz');
  return reply.body.jetstream.partitions as number[];
}

/** Partition `p`'s consumer (named for the hold that made it, so found by its filter); throws unless there is exactly one. */
export async function partitionConsumer(nc: NatsConnection, stream: string, p: number): Promise<ConsumerInfo> {
  const found: ConsumerInfo[] = [];
  for await (const info of (await nc.jetstreamManager()).consumers.list(stream)) if (info.config.filter_subject === `${stream}.intents.${p}.>`) found.push(info);
  if (found.length !== 1) throw new Error(`expected one consumer of partition ${p}, found ${found.map((c) => c.name).join(', ') || 'none'}`);
  return found[0]!;
}
