/** NATS requests whose failure reaches a caller go through here, so they surface as one typed error. */
import { JetStreamError, messageOf } from '../../shared/errors.ts';

/** Runs a NATS request; a failure becomes a `JetStreamError` naming the operation. */
export async function jetStreamCall<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof JetStreamError) throw error;
    throw new JetStreamError({ operation, detail: messageOf(error) });
  }
}

/** True for the error a compare-and-set KV write gets when someone else wrote first. */
export function isWrongRevision(error: unknown): boolean {
  const text = messageOf(error);
  return /wrong last sequence|key exists|wrong last msg/i.test(text);
}
