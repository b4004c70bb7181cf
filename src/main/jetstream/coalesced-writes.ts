/**
 * One socket write per event-loop turn for a NATS connection, instead of one per task that
 * published something.
 *
 * The client buffers what is published and writes the buffer at the end of the current task (a
 * microtask queued when the buffer was empty). Under load every HTTP request, every PubAck and
 * every delivery is a task of its own that publishes a little, so an instance made about two NATS
 * `write` syscalls per intent, and on loopback each one also runs the receiving end's TCP work: the
 * largest single cost of JetStream mode on the main thread. Here the buffer is written from
 * `setImmediate` instead, once every task of the current turn has added to it. Nothing is reordered
 * (it is the same buffer, written in order), and nothing waits longer than the rest of the turn.
 * Measured (README, JetStream figures): 2.85 → 1.45 write syscalls per intent, main-thread CPU per
 * intent 15 % lower, nats-server's 25 % lower.
 *
 * This replaces a method of the client's protocol handler (`nc.protocol.flushPending`), an internal
 * of nats.js 2.x (pinned in package.json). If its shape is not the expected one, the connection is
 * left as it is and `coalesceWrites` returns false; test/jetstream/coalesced-writes.test.ts fails
 * then, so an upgrade of the client cannot drop this silently.
 */
import type { NatsConnection } from 'nats';

interface ProtocolHandler {
  flushPending(): void;
}

/** Makes `nc` write what it buffered once per event-loop turn. True if it took hold. */
export function coalesceWrites(nc: NatsConnection): boolean {
  const protocol = (nc as unknown as { protocol?: Partial<ProtocolHandler> }).protocol;
  if (protocol === undefined || typeof protocol.flushPending !== 'function') return false;
  const flushNow = protocol.flushPending.bind(protocol);
  // Invariant: at most one flush is scheduled; whatever is buffered before it runs goes with it,
  // and whatever is buffered after it schedules the next.
  let scheduled = false;
  protocol.flushPending = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      flushNow();
    });
  };
  return true;
}
