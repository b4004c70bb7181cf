/** What the route modules share: the service's parts, passed in explicitly (no decorators). */
import type { ServerResponse } from 'node:http';
import type { JetStreamMode } from '../jetstream/mode.ts';
import type { LanePool } from '../pool.ts';
import { THREAD_ID_PATTERN, type ReactorTask } from '../../shared/intents.ts';
import type { ServiceConfig } from './config.ts';
import type { Dispatcher } from './dispatcher.ts';
import type { ServiceMetrics } from './metrics.ts';
import type { IntentRecords } from './records.ts';
import type { ThreadEvents } from './thread-events.ts';

export type ServiceState = 'starting' | 'ready' | 'shutting_down' | 'closed';

export interface RouteContext {
  config: ServiceConfig;
  pool: LanePool<ReactorTask, unknown>;
  dispatcher: Dispatcher;
  records: IntentRecords;
  events: ThreadEvents;
  metrics: ServiceMetrics;
  /** Set in JetStream mode (`--nats`): intents are published to the stream instead of run here. */
  jetstream: JetStreamMode | undefined;
  state(): ServiceState;
  /** Open SSE responses, ended on shutdown. */
  streams: Set<ServerResponse>;
}

export const threadParams = {
  type: 'object',
  required: ['threadId'],
  properties: { threadId: { type: 'string', pattern: THREAD_ID_PATTERN } },
} as const;
