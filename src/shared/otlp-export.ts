/**
 * Turns on the OpenTelemetry SDK with an OTLP/HTTP exporter, for `--otlp-endpoint` (or
 * `OTEL_EXPORTER_OTLP_ENDPOINT`). Called on the main thread and in each worker, so spans made on
 * either side are exported. The SDK and exporter are imported here, dynamically, only when the
 * endpoint is set: without it they are never loaded and nothing is exported.
 */

/** Registers a global tracer provider exporting to `endpoint`; the returned function flushes and stops it. */
export async function startOtlpExport(endpoint: string): Promise<() => Promise<void>> {
  const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ]);
  // The base endpoint, as OTEL_EXPORTER_OTLP_ENDPOINT is defined: traces go to <endpoint>/v1/traces.
  const url = `${endpoint.replace(/\/+$/, '')}/v1/traces`;
  const provider = new NodeTracerProvider({
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }))],
  });
  provider.register();
  return () => provider.shutdown();
}
