/**
 * The shard runtime: what a worker does for its whole life. Piscina runs `attach` once per worker;
 * it loads the handler, then serves the main thread's batches from the transferred port until told
 * to close. The returned promise stays pending until then, which keeps piscina from treating the
 * worker as idle.
 */
import { getHeapStatistics } from 'node:v8';
import type { MessagePort, TransferListItem } from 'node:worker_threads';
import { LaneTimeoutError, messageOf, toWire } from '../shared/errors.ts';
import { Outbox, type PostTarget } from '../shared/outbox.ts';
import type { HandlerStats } from '../shared/handler.ts';
import type { AttachRequest, AttachResult, FromWorker, ToWorker, WorkerReport } from '../shared/protocol.ts';
import { ShardMemory } from '../shared/shard-memory.ts';
import { StartedTable } from '../shared/started-table.ts';
import { degrade } from './degrade.ts';
import { EventSender } from './events.ts';
import { Lanes, type LaneTask, type Outcome } from './lanes.ts';
import { loadHandler } from './load-handler.ts';

export async function attach(request: AttachRequest): Promise<AttachResult> {
  const { shard, port, handler: handlerUrl, handlerData, heartbeatMs } = request;
  const memory = new ShardMemory(request.memory);
  const started = new StartedTable(memory);
  const outbox: Outbox<FromWorker> = new Outbox<FromWorker>(postingTo(port, memory), (message, refusal) => {
    // Never drop a task's outcome: send a simpler message in its place (see degrade.ts).
    const replacement = degrade(message, refusal);
    if (replacement === undefined) {
      process.emitWarning(`lanepool: shard ${shard} could not send a ${message.t} message: ${messageOf(refusal)}`);
      return;
    }
    outbox.push(replacement);
    started.resent(replacement.id);
  }, () => {
    started.flushed();
    events.flushed();
  });
  // Events share the outbox with the tasks' terminal messages: that shared order is the event rule.
  const events = new EventSender(outbox, request.maxEventBytes);

  // Beat from the start, so a worker that freezes while loading the handler is caught too.
  memory.beat();
  const heartbeat = heartbeatMs > 0 ? setInterval(() => memory.beat(), heartbeatMs) : undefined;
  let loaded;
  try {
    loaded = await loadHandler(handlerUrl, handlerData, shard);
  } catch (error) {
    clearInterval(heartbeat);
    port.close();
    return { fatal: toWire(error) };
  }

  memory.markLoaded();
  // Lanes calls `started` just before the handler; the table entries keep the "started" rule
  // (protocol.ts's header).
  const lanes = new Lanes(loaded.handler, {
    started: (task) => {
      outbox.push({ t: 'started', id: task.id });
      // No room to record it in shared memory: announce it now, before the handler can hang us.
      if (!started.mark(task.id)) outbox.flush();
    },
    settled: (task, outcome) => {
      report(outbox, task, outcome);
      if (outcome.kind === 'cancelled') started.release(task.id);
      else started.reported(task.id);
    },
    abandoned: (count) => outbox.push({ t: 'abandoned', count }),
    event: (task, event) => events.send(task, event),
    eventDropped: () => events.dropped(),
  }, shard);

  const result = await serve(port, lanes, outbox, loaded.stats);
  clearInterval(heartbeat);
  return result;
}

function serve(port: MessagePort, lanes: Lanes, outbox: Outbox<FromWorker>, stats: HandlerStats | undefined): Promise<AttachResult> {
  return new Promise((resolve) => {
    port.on('message', (batch: ToWorker[]) => {
      for (const message of batch) {
        switch (message.t) {
          case 'run':
            lanes.push(message);
            break;
          case 'cancel':
            lanes.cancelKey(message.key, message.reason);
            break;
          case 'abort':
            lanes.abort(message.id, message.reason);
            break;
          case 'probe':
            outbox.push({ t: 'probe', id: message.id, stats: probeReport(lanes, stats) });
            break;
          case 'close':
            outbox.flush();
            port.close();
            resolve({ closed: true });
            return;
        }
      }
    });
    // Out before any task of the first batch can start (and perhaps never yield again).
    outbox.push({ t: 'ready' });
    outbox.flush();
  });
}

/** The probe's answer. The handler's gauges are its own code: whatever they do must not break the batch loop. */
function probeReport(lanes: Lanes, stats: HandlerStats | undefined): WorkerReport {
  const heap = getHeapStatistics();
  const gauges: Record<string, number> = {};
  try {
    for (const [name, value] of Object.entries(stats?.() ?? {})) if (Number.isFinite(value)) gauges[name] = value;
  } catch {
    // Reported as no gauges; the lane table and heap still go out.
  }
  return {
    ...lanes.stats(),
    heap: { usedBytes: heap.used_heap_size, totalBytes: heap.total_heap_size, limitBytes: heap.heap_size_limit },
    handler: gauges,
  };
}

/**
 * The port, with every post marked in shared memory: structured clone of a large result runs inside
 * postMessage and blocks this thread, and the watchdog must not mistake that for a stall (see
 * POSTING_SLOT in protocol.ts). The mark is cleared, and a beat given, the moment the post returns.
 */
function postingTo(port: MessagePort, memory: ShardMemory): PostTarget {
  return {
    postMessage(value: unknown, transferList?: readonly TransferListItem[]): void {
      memory.beginPost();
      try {
        port.postMessage(value, transferList);
      } finally {
        memory.endPost();
      }
    },
  };
}

/** Cancelled tasks were already settled by the main thread, which cancelled them; nothing to send. */
function report(outbox: Outbox<FromWorker>, task: LaneTask, outcome: Outcome): void {
  switch (outcome.kind) {
    case 'ok':
      outbox.push({ t: 'ok', id: task.id, value: outcome.value }, outcome.transfer);
      break;
    case 'error':
      outbox.push({ t: 'err', id: task.id, error: toWire(outcome.error) });
      break;
    case 'timeout':
      outbox.push({ t: 'err', id: task.id, error: toWire(new LaneTimeoutError({ key: task.key, timeoutMs: outcome.timeoutMs })) });
      break;
    case 'cancelled':
      break;
  }
}
