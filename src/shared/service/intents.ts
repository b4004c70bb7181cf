/**
 * Provider intents: what the service accepts per conversation thread, their payloads, and the JSON
 * schemas the HTTP layer validates them with. Shared because the worker-side reactor runs them.
 */

export const INTENT_TYPES = [
  'thread.turn.start',
  'thread.turn.interrupt',
  'thread.approval.respond',
  'thread.user-input.respond',
  'thread.session.stop',
  'thread.runtime-mode.set',
] as const;

export type IntentType = (typeof INTENT_TYPES)[number];

/** Instructions for the built-in simulator; other providers receive them too and may ignore them. */
export interface Simulate {
  /** Hang the session start this long, or forever. */
  startHangMs?: number | 'forever';
  /** Burn this much CPU in sendTurn. */
  sendCpuMs?: number;
  /** Fail this operation (`true`: the intent's own operation). */
  fail?: boolean | 'start' | 'send' | 'interrupt' | 'approval' | 'user-input' | 'stop';
  /** sendTurn streams this many `item.completed` events. */
  items?: number;
  /** sendTurn asks for an approval (`approval.requested`) and waits for its answer; `cancel` interrupts the turn. */
  approval?: boolean;
  /** sendTurn asks for user input (`user-input.requested`) and waits for the answers. */
  userInput?: boolean;
  /** The turn lasts this long, or until interrupted (then its status is `interrupted`). */
  turnHangMs?: number | 'forever';
}

export interface TurnStartPayload {
  input: string;
  runtimeMode?: string;
  /** The session's working directory: absolute, or relative to `--workspace-root`, and inside it. Used when the turn starts a session. */
  cwd?: string;
  simulate?: Simulate;
}
export interface TurnInterruptPayload { turnId?: string; simulate?: Simulate }
export interface ApprovalRespondPayload { requestId: string; decision: 'accept' | 'accept-for-session' | 'decline' | 'cancel'; simulate?: Simulate }
export interface UserInputRespondPayload { requestId: string; answers: Record<string, unknown>; simulate?: Simulate }
export interface SessionStopPayload { simulate?: Simulate }
export interface RuntimeModeSetPayload { mode: string }

export interface PayloadOf {
  'thread.turn.start': TurnStartPayload;
  'thread.turn.interrupt': TurnInterruptPayload;
  'thread.approval.respond': ApprovalRespondPayload;
  'thread.user-input.respond': UserInputRespondPayload;
  'thread.session.stop': SessionStopPayload;
  'thread.runtime-mode.set': RuntimeModeSetPayload;
}

/** What the pool runs: an intent plus the thread it is for (the pool key). */
export type Intent = { [T in IntentType]: { type: T; payload: PayloadOf[T]; intentId: string } }[IntentType];

/** Internal, never accepted over HTTP: read the thread's session state from its worker. */
export interface DescribeThread {
  type: 'lanepool.thread.describe';
}

/**
 * An intent whose start must be recorded before the provider sees it (JetStream mode): the reactor
 * waits until the main thread opens `startGate` (start-gate.ts), after the intent's running record
 * is written, so a rerun after a crash always knows the first run began (ctx.attempt is then 2). A
 * refused gate means the start was fenced (the partition is no longer held here): the provider must
 * not be called at all.
 */
export type GatedIntent = Intent & {
  startGate?: SharedArrayBuffer;
  /** The intent span's W3C traceparent, when tracing is on: provider calls in the worker run under it. */
  traceparent?: string;
};

export type ReactorTask = GatedIntent | DescribeThread;

/** Session state as the owning worker sees it. */
export interface SessionView {
  status: 'starting' | 'ready';
  sessionId?: string;
  runtimeMode: string;
  cursor?: string;
}

export interface ThreadView {
  session: SessionView | null;
  /** The mode the next turn will use. */
  runtimeMode: string;
}

/**
 * Intents the service runs as control tasks: they must get past a running (or hung) turn. A turn
 * holds its thread's lane until it ends, so the answers it waits for (an approval, user input) are
 * control intents too: queued behind the turn, they would wait for it forever.
 */
export const CONTROL_INTENTS: ReadonlySet<IntentType> = new Set([
  'thread.turn.interrupt', 'thread.approval.respond', 'thread.user-input.respond', 'thread.session.stop',
]);

/** The control intents that carry a body of some size (the answers): their bytes are counted all the same (see answer-bytes.ts). */
export const ANSWER_INTENTS: ReadonlySet<IntentType> = new Set(['thread.approval.respond', 'thread.user-input.respond']);

export const DEFAULT_RUNTIME_MODE = 'default';

const MAX_INT32 = 2 ** 31 - 1;
const id = { type: 'string', minLength: 1, maxLength: 256 } as const;
const mode = { type: 'string', pattern: '^[a-z][a-z0-9-]{0,31}$' } as const;

export const simulateSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    startHangMs: { anyOf: [{ type: 'integer', minimum: 0, maximum: MAX_INT32 }, { const: 'forever' }] },
    sendCpuMs: { type: 'integer', minimum: 0, maximum: 10_000 },
    fail: { anyOf: [{ type: 'boolean' }, { enum: ['start', 'send', 'interrupt', 'approval', 'user-input', 'stop'] }] },
    items: { type: 'integer', minimum: 0, maximum: 10_000 },
    approval: { type: 'boolean' },
    userInput: { type: 'boolean' },
    turnHangMs: { anyOf: [{ type: 'integer', minimum: 0, maximum: MAX_INT32 }, { const: 'forever' }] },
  },
} as const;

/** One payload schema per intent type. */
export const payloadSchemas: Record<IntentType, object> = {
  'thread.turn.start': {
    type: 'object', additionalProperties: false, required: ['input'],
    properties: { input: { type: 'string', maxLength: 262_144 }, runtimeMode: mode, cwd: { type: 'string', minLength: 1, maxLength: 4096 }, simulate: simulateSchema },
  },
  'thread.turn.interrupt': {
    type: 'object', additionalProperties: false,
    properties: { turnId: id, simulate: simulateSchema },
  },
  'thread.approval.respond': {
    type: 'object', additionalProperties: false, required: ['requestId', 'decision'],
    properties: { requestId: id, decision: { enum: ['accept', 'accept-for-session', 'decline', 'cancel'] }, simulate: simulateSchema },
  },
  'thread.user-input.respond': {
    type: 'object', additionalProperties: false, required: ['requestId', 'answers'],
    properties: { requestId: id, answers: { type: 'object' }, simulate: simulateSchema },
  },
  'thread.session.stop': {
    type: 'object', additionalProperties: false,
    properties: { simulate: simulateSchema },
  },
  'thread.runtime-mode.set': {
    type: 'object', additionalProperties: false, required: ['mode'],
    properties: { mode },
  },
};

/** A threadId: 1 to 256 characters of [A-Za-z0-9._:-]. */
export const THREAD_ID_PATTERN = '^[A-Za-z0-9._:-]{1,256}$';
/** An intentId: 1 to 128 characters of [A-Za-z0-9._:-]. */
export const INTENT_ID_PATTERN = '^[A-Za-z0-9._:-]{1,128}$';

/** The body of an intent submission: `{ type, payload, intentId? }`, each type with its own payload schema. */
export const submissionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'payload'],
  properties: {
    type: { enum: INTENT_TYPES },
    payload: { type: 'object' },
    intentId: { type: 'string', pattern: INTENT_ID_PATTERN },
  },
  // Each type's payload schema applies only to that type.
  allOf: INTENT_TYPES.map((type) => ({
    if: { required: ['type'], properties: { type: { const: type } } },
    then: { properties: { payload: payloadSchemas[type] } },
  })),
};
