/**
 * `lanepool/jetstream`: publishing intents straight into a JetStream-mode deployment's stream, without
 * going through HTTP. The mode itself runs inside the service (`lanepool serve --nats URL`). Loads nats
 * and ajv; the `lanepool` entry loads neither.
 *
 * @example
 * import { connect } from 'nats';
 * import { intentPublisher } from 'lanepool/jetstream';
 * const publish = await intentPublisher(await connect({ servers: 'nats://127.0.0.1:4222' }));
 * const { kind, record } = await publish({ threadId: 'thread-42', type: 'thread.turn.start', payload: { input: 'hi' } });
 */
export {
  intentPublisher, type IntentMessage, type IntentPublisherOptions, type PublishIntent, type PublishResult,
} from './publisher.ts';
export type { StoredIntent } from './intent-store.ts';
export type { IntentType } from '../../shared/service/intents.ts';
export { JetStreamError, InvalidIntentError } from '../../shared/errors.ts';
