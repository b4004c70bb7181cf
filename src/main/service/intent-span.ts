/**
 * One OpenTelemetry span per intent, from acceptance to settlement, through `@opentelemetry/api`
 * alone: with no SDK registered the tracer is a no-op, the span records nothing, and no trace
 * context is sent to the worker. Its traceparent rides on the intent into the worker (see
 * shared/trace-context.ts), so the provider's spans there are its children.
 */
import { ProxyTracerProvider, SpanKind, SpanStatusCode, context, isSpanContextValid, trace, type Span } from '@opentelemetry/api';
import type { IntentType } from '../../shared/service/intents.ts';
import { traceparentOf } from '../../shared/trace-context.ts';

/** The span attributes, named under `lanepool.` as the semantic conventions ask of a library. */
export const ATTRIBUTES = {
  thread: 'lanepool.thread.id',
  type: 'lanepool.intent.type',
  intent: 'lanepool.intent.id',
  shard: 'lanepool.shard',
  attempt: 'lanepool.attempt',
  outcome: 'lanepool.outcome',
} as const;

export interface IntentSpan {
  /** What the worker needs to parent its spans; undefined when nothing is traced. */
  readonly traceparent: string | undefined;
  /** Ends the span with the intent's status (`completed`, `failed`, ...) and its error code, if any. */
  end(outcome: string, errorCode?: string, message?: string): void;
}

/** What an intent gets when nothing is traced: no span, no traceparent. */
const UNTRACED: IntentSpan = Object.freeze({ traceparent: undefined, end(): void {} });

export function startIntentSpan(data: { threadId: string; type: IntentType; intentId: string; shard: number; attempt: number }): IntentSpan {
  if (untraced()) return UNTRACED;
  // Asked for per intent, not kept: a tracer taken before the SDK was (re)registered stays bound
  // to the provider of that moment.
  const span: Span = trace.getTracer('lanepool').startSpan(`lanepool intent ${data.type}`, {
    kind: SpanKind.INTERNAL,
    attributes: {
      [ATTRIBUTES.thread]: data.threadId, [ATTRIBUTES.type]: data.type, [ATTRIBUTES.intent]: data.intentId,
      [ATTRIBUTES.shard]: data.shard, [ATTRIBUTES.attempt]: data.attempt,
    },
  });
  return {
    traceparent: traceparentOf(span),
    end(outcome, errorCode, message) {
      span.setAttribute(ATTRIBUTES.outcome, outcome);
      if (errorCode !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: `${errorCode}: ${message ?? ''}` });
      span.end();
    },
  };
}

/**
 * True when a span would be a no-op: no SDK is registered (the global provider has no delegate) and
 * no span is active to parent one. The API would then hand out a fresh non-recording span with an
 * invalid context per intent (a tracer, an attributes object, a span, two regex checks of its ids),
 * which the http benchmark's profile counted on every intent; this asks the same question first.
 */
function untraced(): boolean {
  const provider = trace.getTracerProvider();
  if (!(provider instanceof ProxyTracerProvider) || provider.getDelegateTracer('lanepool') !== undefined) return false;
  const parent = trace.getSpanContext(context.active());
  return parent === undefined || !isSpanContextValid(parent);
}
