/**
 * What a submission that names an intentId already in use means, for every backend: the same thread
 * and type repeat the intent (nothing new runs; the existing record answers), anything else is a
 * conflict (409). Each backend finds `existing` its own way, in the same step that would store the
 * new intent (a map lookup, a KV create), so two submissions of one id cannot both be accepted.
 */
import type { IntentType } from '../../shared/service/intents.ts';
import type { IntentRecord } from './records.ts';

export function reuseOf(existing: IntentRecord, threadId: string, type: IntentType): 'duplicate' | 'conflict' {
  return existing.threadId === threadId && existing.type === type ? 'duplicate' : 'conflict';
}

/** The 409's message. */
export function conflictMessage(existing: IntentRecord): string {
  return `intentId ${existing.intentId} was already used for ${existing.type} on thread ${existing.threadId}`;
}
