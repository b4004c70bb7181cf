/**
 * What a worker does with a handler's `ctx.emit(event)`: the checks the handler hears at once, the
 * snapshot that goes out on the worker's Outbox, and the count of events dropped because their task
 * had already settled. Lanes decides which of the two an emit is (see its module comment); the
 * ordering this relies on is the event rule in protocol.ts's header.
 */
import { DataCloneError, EventTooLargeError, messageOf } from '../shared/errors.ts';
import type { Outbox } from '../shared/outbox.ts';
import { estimateBytes } from '../shared/payload-size.ts';
import { NOT_PLAIN, plainCopy } from './plain-copy.ts';
import type { DroppedMessage, FromWorker } from '../shared/protocol.ts';
import type { LaneTask } from './lanes.ts';

export class EventSender {
  readonly #outbox: Outbox<FromWorker>;
  readonly #maxBytes: number;
  /** This turn's `dropped` message, still in the outbox and counting; undefined once it has left. */
  #dropped: DroppedMessage | undefined;

  constructor(outbox: Outbox<FromWorker>, maxBytes: number) {
    this.#outbox = outbox;
    this.#maxBytes = maxBytes;
  }

  /**
   * Queues a running task's event, or throws to the handler's `emit` why it cannot go: a refusal
   * here, synchronous, instead of one inside postMessage at the end of the turn, where it would be
   * nobody's to hear. Nothing is queued when it throws, so the lane and the batch go on untouched.
   */
  send(task: LaneTask, event: unknown): void {
    let bytes: number;
    try {
      // Before the copy, so a huge event is refused without being copied first. The walk reads the
      // event as structured clone would: a getter that throws here would throw in the clone too.
      bytes = estimateBytes(event);
    } catch (error) {
      throw new DataCloneError({ key: task.key, what: 'event', detail: messageOf(error) });
    }
    if (bytes > this.#maxBytes) throw new EventTooLargeError({ key: task.key, bytes, max: this.#maxBytes });
    const copy = snapshot(task.key, event);
    // Onto the task's own event message while it is still the last one queued: nothing queued
    // since, so the order is exactly that of a message of its own (the event rule holds as it is).
    const last = this.#outbox.last();
    if (last !== undefined && last.t === 'event' && last.id === task.id) last.events.push(copy);
    else this.#outbox.push({ t: 'event', id: task.id, events: [copy] });
  }

  /** An emit after its task settled: counted, and reported once per batch however many there were. */
  dropped(): void {
    if (this.#dropped === undefined) {
      this.#dropped = { t: 'dropped', count: 0 };
      this.#outbox.push(this.#dropped);
    }
    // The message is still queued (the outbox clones it only when it posts), so raising its count
    // here reports this drop too.
    this.#dropped.count++;
  }

  /** The outbox posted its batch: the next drop needs a message of its own. */
  flushed(): void {
    this.#dropped = undefined;
  }
}

/**
 * The event as it is now. The post happens at the end of the turn, so without a copy a handler that
 * reuses one object for every emit would send the last state of it many times over. A primitive
 * cannot change and always clones, so only objects are copied, and only they can be refused.
 */
function snapshot(key: string, event: unknown): unknown {
  const type = typeof event;
  if (event === null || (type !== 'object' && type !== 'function' && type !== 'symbol')) return event;
  try {
    // Plain data (most events) is copied by a walk that gives what structuredClone would, for a
    // tenth of its cost; anything else goes through structuredClone itself (plain-copy.ts).
    const copy = plainCopy(event);
    return copy !== NOT_PLAIN ? copy : structuredClone(event);
  } catch (error) {
    throw new DataCloneError({ key, what: 'event', detail: messageOf(error) });
  }
}
