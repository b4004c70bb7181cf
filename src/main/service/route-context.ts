/** What the route modules share: the service's parts, passed in explicitly (no decorators). */
import type { ServerResponse } from 'node:http';
import type { LanePool } from '../pool.ts';
import type { ReactorTask } from '../../shared/intents.ts';
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
  state(): ServiceState;
  /** Open SSE responses, ended on shutdown. */
  streams: Set<ServerResponse>;
}

/** A threadId: 1 to 256 characters of [A-Za-z0-9._:-]. */
export const threadParams = {
  type: 'object',
  required: ['threadId'],
  properties: { threadId: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,256}$' } },
} as const;

export const INTENT_ID_PATTERN = '^[A-Za-z0-9._:-]{1,128}$';
