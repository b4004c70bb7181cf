import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service/server.ts';
import { startTestService, submit } from './helpers.ts';

const TRACED = fileURLToPath(new URL('../fixtures/traced-provider.mjs', import.meta.url));

describe('OpenTelemetry span per intent', () => {
  const exporter = new InMemorySpanExporter();
  let service: Service;

  beforeAll(async () => {
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    service = await startTestService({ handler: TRACED });
  });
  afterAll(async () => {
    await service.shutdown();
    trace.disable();
  });

  it("makes the provider's span in the worker a child of the intent's span on the main thread", async () => {
    const reply = await submit(service, 'otel-1', { type: 'thread.turn.start', payload: { input: 'hi' } }, true);
    expect(reply.status).toBe(200);
    const [span] = exporter.getFinishedSpans().filter((s) => s.attributes['lanepool.intent.id'] === reply.body.intentId);
    expect(span).toBeDefined();
    const { traceId, parentSpanId } = reply.body.result.output;
    expect(traceId).toBe(span!.spanContext().traceId);
    expect(parentSpanId).toBe(span!.spanContext().spanId);
    expect(span!.name).toBe('lanepool intent thread.turn.start');
    expect(span!.attributes).toMatchObject({
      'lanepool.thread.id': 'otel-1', 'lanepool.intent.type': 'thread.turn.start', 'lanepool.shard': reply.body.shard,
      'lanepool.attempt': 1, 'lanepool.outcome': 'completed',
    });
  });

  it('marks a failed intent as an error with its code', async () => {
    const reply = await submit(service, 'otel-2', { type: 'thread.turn.interrupt', payload: {} }, true);
    expect(reply.body.status).toBe('failed');
    const [span] = exporter.getFinishedSpans().filter((s) => s.attributes['lanepool.intent.id'] === reply.body.intentId);
    expect(span!.attributes['lanepool.outcome']).toBe('failed');
    expect(span!.status).toMatchObject({ code: 2 });
    expect(span!.status.message).toContain('ERR_NO_SESSION');
  });
});

describe('--otlp-endpoint', () => {
  it('exports the intent spans over OTLP/HTTP to <endpoint>/v1/traces, flushed at shutdown', async () => {
    const posts: { url: string; body: string }[] = [];
    const collector = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        posts.push({ url: req.url ?? '', body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const { port } = collector.address() as AddressInfo;
    try {
      const service = await startTestService({ otlpEndpoint: `http://127.0.0.1:${port}/` });
      const reply = await submit(service, 'otlp-1', { type: 'thread.turn.start', payload: { input: 'x' } }, true);
      expect(reply.body.status).toBe('completed');
      await service.shutdown();
      const traces = posts.filter((p) => p.url === '/v1/traces');
      expect(traces.length).toBeGreaterThan(0);
      expect(traces.map((p) => p.body).join('')).toContain(reply.body.intentId);
    } finally {
      trace.disable();
      collector.close();
    }
  });
});
