/**
 * What the worker sends instead of a message that structured clone refused, so that no task's outcome
 * is ever dropped. Each step is strictly simpler than the one before, so the chain ends:
 *
 *   ok (result refused)            -> err: DataCloneError for the result
 *   err (full WireError refused)   -> err: { name, message } alone
 *   err ({ name, message } refused) -> err: UNSENDABLE, a constant
 *   UNSENDABLE, or any other message -> nothing simpler exists: undefined
 *
 * A `toWire` result is plain data already, so in practice only a result is refused; the later steps
 * are for what is left (a post that runs out of memory, say).
 */
import { DataCloneError, messageOf, toWire, type WireError } from '../shared/errors.ts';
import type { ErrMessage, FromWorker } from '../shared/protocol.ts';

const UNSENDABLE: WireError = Object.freeze({ name: 'Error', message: 'the task failed, and its error could not be sent from the worker' });

export function degrade(message: FromWorker, refusal: unknown): ErrMessage | undefined {
  if (message.t === 'ok') {
    // The main thread fills in the task's key.
    return { t: 'err', id: message.id, error: toWire(new DataCloneError({ key: '', what: 'result', detail: messageOf(refusal) })) };
  }
  if (message.t !== 'err' || message.error === UNSENDABLE) return undefined;
  const { name, message: text, ...rest } = message.error;
  if (Object.keys(rest).length === 0) return { t: 'err', id: message.id, error: UNSENDABLE };
  return { t: 'err', id: message.id, error: { name: typeof name === 'string' ? name : 'Error', message: typeof text === 'string' ? text : '' } };
}
