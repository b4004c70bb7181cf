/**
 * The `http` benchmark's load generator, in a process of its own so that it never shares the served
 * event loop: autocannon posts one `thread.turn.start` per request, its threadId taken round-robin
 * from `thread-0` to `thread-<threads - 1>`, on `connections` keep-alive connections for `durationMs`.
 * Forked by http.ts with one JSON argument, `{ url, query, connections, durationMs, threads }`; sends
 * back the figures http.ts reports.
 */
import autocannon from 'autocannon';

const { url, query, connections, durationMs, threads } = JSON.parse(process.argv[2]);
let next = 0;
const result = await autocannon({
  url,
  connections,
  duration: durationMs / 1000,
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ type: 'thread.turn.start', payload: { input: 'hi' } }),
  requests: [{
    setupRequest(request) {
      request.path = `/v1/threads/thread-${next++ % threads}/intents${query}`;
      return request;
    },
  }],
});
process.send({
  ok: result['2xx'],
  other: result.non2xx,
  errors: result.errors,
  statuses: Object.keys(result.statusCodeStats ?? {}).join(','),
  seconds: result.duration,
  p50Ms: result.latency.p50,
  p99Ms: result.latency.p99,
}, () => process.exit(0));
