/**
 * The shard runtime: what a worker does for its whole life. Piscina runs `attach` once per worker;
 * it loads the handler, then serves the main thread's batches from the transferred port until told
 * to close. The returned promise stays pending until then, which keeps piscina from treating the
 * worker as idle.
 */
import type { MessagePort } from 'node:worker_threads';
import { DataCloneError, LaneTimeoutError, toWire } from '../shared/errors.ts';
import { Outbox } from '../shared/outbox.ts';
import type { AttachRequest, AttachResult, FromWorker, ToWorker } from '../shared/protocol.ts';
import { Lanes, type LaneTask, type Outcome } from './lanes.ts';
import { loadHandler } from './load-handler.ts';

export async function attach(request: AttachRequest): Promise<AttachResult> {
  const { shard, port, handler: handlerUrl, handlerData } = request;
  const outbox = new Outbox<FromWorker>(port, (message, error) => {
    // Only a result can fail to clone: every other message is plain data built here. Report it as a
    // typed error instead of losing the task; the main thread fills in the key.
    if (message.t !== 'ok') return;
    const detail = error instanceof Error ? error.message : String(error);
    const wire = toWire(new DataCloneError({ key: '', what: 'result', detail }));
    outbox.push({ t: 'err', id: message.id, error: wire });
  });

  let handler;
  try {
    handler = await loadHandler(handlerUrl, handlerData, shard);
  } catch (error) {
    port.close();
    return { fatal: toWire(error) };
  }

  const lanes = new Lanes(handler, {
    started: (task) => outbox.push({ t: 'started', id: task.id }),
    settled: (task, outcome) => report(outbox, task, outcome),
    abandoned: (count) => outbox.push({ t: 'abandoned', count }),
  }, shard);

  return serve(port, lanes, outbox);
}

function serve(port: MessagePort, lanes: Lanes, outbox: Outbox<FromWorker>): Promise<AttachResult> {
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
            outbox.push({ t: 'probe', id: message.id, stats: lanes.stats() });
            break;
          case 'close':
            outbox.flush();
            port.close();
            resolve({ closed: true });
            return;
        }
      }
    });
    outbox.push({ t: 'ready' });
  });
}

/** Cancelled tasks were already settled by the main thread, which cancelled them; nothing to send. */
function report(outbox: Outbox<FromWorker>, task: LaneTask, outcome: Outcome): void {
  switch (outcome.kind) {
    case 'ok':
      outbox.push({ t: 'ok', id: task.id, value: outcome.value });
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
