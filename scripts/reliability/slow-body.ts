/**
 * The slow-body attack: connections that send their headers, then trickle the body one byte at a time,
 * against a real service on a loopback port with its default timeouts. Reports how many the service
 * closed, after how long, and with what status line. Two cases: a service without a token (the
 * request timeout must close them) and one with a token, the attacker lacking it (the 401 must).
 */
import { connect } from 'node:net';
import { resolveConfig } from '../../src/main/service/config.ts';
import { startService } from '../../src/main/service/server.ts';

export interface SlowBodyOptions {
  connections: number;
  /** Milliseconds between two bytes of the body. */
  trickleMs: number;
  token: string | undefined;
}

export interface SlowBodyReport {
  connections: number;
  closed: number;
  /** Seconds from connecting to the server closing, of the closed ones, sorted. */
  closedAfterS: number[];
  /** Status lines the server answered with, and how many of each. */
  answers: Record<string, number>;
  requestTimeoutMs: number;
}

export async function runSlowBody(options: SlowBodyOptions): Promise<SlowBodyReport> {
  const config = resolveConfig({ port: 0, logLevel: 'silent', shards: 1, ...(options.token ? { token: options.token } : {}) });
  const service = await startService(config);
  const { port } = new URL(service.url);
  // Past this the connections still open are counted as held (two request timeouts and a margin).
  const giveUpMs = 2 * config.requestTimeoutMs + 10_000;
  const results = await Promise.all(Array.from({ length: options.connections }, () => new Promise<{ afterS?: number; answer: string }>((resolve) => {
    const started = performance.now();
    const socket = connect(Number(port), '127.0.0.1');
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', () => {});
    socket.once('connect', () => socket.write(`POST /v1/threads/slow/intents HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`));
    const trickle = setInterval(() => socket.writable && socket.write('x'), options.trickleMs);
    const giveUp = setTimeout(() => socket.destroy(new Error('held')), giveUpMs);
    socket.once('close', () => {
      clearInterval(trickle);
      clearTimeout(giveUp);
      const answer = /^HTTP\/1\.1 \d{3}[^\r]*/.exec(text)?.[0] ?? 'none';
      resolve(socket.errored?.message === 'held' ? { answer: 'held open' } : { afterS: (performance.now() - started) / 1000, answer });
    });
  })));
  await service.shutdown();
  const answers: Record<string, number> = {};
  for (const { answer } of results) answers[answer] = (answers[answer] ?? 0) + 1;
  const closedAfterS = results.flatMap((r) => (r.afterS === undefined ? [] : [r.afterS])).sort((a, b) => a - b);
  return { connections: options.connections, closed: closedAfterS.length, closedAfterS, answers, requestTimeoutMs: config.requestTimeoutMs };
}
