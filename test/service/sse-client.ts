/** A test client for GET /v1/threads/:threadId/events: reads frames as they come, waits for the ones a test needs. */
import { request } from 'undici';
import type { Service } from '../../src/main/service/server.ts';

export interface Frame {
  id?: number;
  event: string;
  data: any;
}

export interface EventsClient {
  /** Every frame so far, comments left out. */
  readonly frames: Frame[];
  /** Resolves with the first frame (from the start) that matches; rejects after `timeoutMs` (a hang detector only). */
  waitFor(match: (frame: Frame) => boolean, what: string, timeoutMs?: number): Promise<Frame>;
  close(): void;
}

/** Opens the stream and resolves once the server has subscribed it (its `: subscribed` comment). */
export async function openEvents(service: { url: string } | Service, threadId: string, lastEventId?: number | string): Promise<EventsClient> {
  const headers: Record<string, string> = lastEventId === undefined ? {} : { 'last-event-id': String(lastEventId) };
  const res = await request(`${service.url}/v1/threads/${threadId}/events`, { headers });
  if (res.statusCode !== 200) throw new Error(`events stream answered ${res.statusCode}: ${await res.body.text()}`);
  const frames: Frame[] = [];
  const waiters = new Set<() => void>();
  let subscribed!: () => void;
  const ready = new Promise<void>((resolve) => (subscribed = resolve));
  let ended = false;
  void (async () => {
    let buffer = '';
    try {
      for await (const chunk of res.body) {
        buffer += chunk.toString();
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const text = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (text === ': subscribed') subscribed();
          if (text.startsWith(':')) continue;
          const frame: Frame = { event: 'message', data: undefined };
          for (const line of text.split('\n')) {
            const colon = line.indexOf(': ');
            const [field, value] = [line.slice(0, colon), line.slice(colon + 2)];
            if (field === 'id') frame.id = Number(value);
            if (field === 'event') frame.event = value;
            if (field === 'data') frame.data = JSON.parse(value);
          }
          frames.push(frame);
        }
        for (const wake of [...waiters]) wake();
      }
    } catch {
      // Closed by the test.
    } finally {
      ended = true;
      for (const wake of [...waiters]) wake();
    }
  })();
  await ready;
  return {
    frames,
    waitFor(match, what, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${what} on the events stream within ${timeoutMs} ms; got ${JSON.stringify(frames.map((f) => [f.id, f.event, f.data?.kind ?? f.data?.status ?? f.data?.reason]))}`));
        }, timeoutMs);
        const check = (): void => {
          const found = frames.find(match);
          if (found === undefined && !ended) return;
          clearTimeout(timer);
          waiters.delete(check);
          if (found !== undefined) resolve(found);
          else reject(new Error(`the events stream ended without ${what}`));
        };
        waiters.add(check);
        check();
      });
    },
    close() {
      res.body.destroy();
    },
  };
}

/** The settlement frame of `intentId`. */
export const settlementOf = (intentId: string) => (frame: Frame): boolean => frame.event === 'intent' && frame.data.intentId === intentId;
