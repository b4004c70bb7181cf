/**
 * Carries an OpenTelemetry span context across the thread hop as a W3C `traceparent` string, using
 * `@opentelemetry/api` alone: the main thread writes it into the task, the worker turns it back into
 * a context, so spans a provider makes in the worker are children of the intent's span. With no SDK
 * registered, spans are non-recording with an invalid context, nothing is written, and this costs
 * one check per intent.
 */
import { ROOT_CONTEXT, isSpanContextValid, trace, type Context, type Span } from '@opentelemetry/api';

/** `00-<trace id>-<span id>-<flags>`: https://www.w3.org/TR/trace-context/#traceparent-header */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The span's `traceparent`, or undefined for a span that is not being traced (no SDK). */
export function traceparentOf(span: Span): string | undefined {
  const context = span.spanContext();
  if (!isSpanContextValid(context)) return undefined;
  return `00-${context.traceId}-${context.spanId}-${context.traceFlags.toString(16).padStart(2, '0')}`;
}

/** A context whose active span is the remote parent `traceparent` names; undefined if it is malformed. */
export function contextFrom(traceparent: string): Context | undefined {
  const match = TRACEPARENT.exec(traceparent);
  if (match === null) return undefined;
  const spanContext = { traceId: match[1]!, spanId: match[2]!, traceFlags: Number.parseInt(match[3]!, 16), isRemote: true };
  return isSpanContextValid(spanContext) ? trace.setSpanContext(ROOT_CONTEXT, spanContext) : undefined;
}
