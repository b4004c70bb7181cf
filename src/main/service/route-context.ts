/** What the route modules share: the service's parts, passed in explicitly (no decorators). */
import type { ServerResponse } from 'node:http';
import type { LanePool } from '../pool.ts';
import { THREAD_ID_PATTERN, type ReactorTask } from '../../shared/service/intents.ts';
import type { ServiceConfig } from './config.ts';
import type { Dispatcher } from './dispatcher.ts';
import type { IntentBackend } from './intent-backend.ts';
import type { IntentRecords } from './records.ts';
import type { ServiceMetrics } from './metrics.ts';

export type ServiceState = 'starting' | 'ready' | 'shutting_down' | 'closed';

export interface RouteContext {
  config: ServiceConfig;
  pool: LanePool<ReactorTask, unknown>;
  /** This instance's threads: their activity and sessions (intents reach it through `intents`). */
  dispatcher: Dispatcher;
  /**
   * The records of the intents this instance runs, in either backend (the in-memory backend answers
   * from them; JetStream mode's are the bucket's, so these are only the local view, for the console).
   */
  records: IntentRecords;
  /** Where intents are submitted, recorded and followed: the only view routes have of it. */
  intents: IntentBackend;
  metrics: ServiceMetrics;
  state(): ServiceState;
  /** Open SSE responses, ended on shutdown. */
  streams: Set<ServerResponse>;
}

export const threadParams = {
  type: 'object',
  required: ['threadId'],
  properties: { threadId: { type: 'string', pattern: THREAD_ID_PATTERN } },
} as const;
