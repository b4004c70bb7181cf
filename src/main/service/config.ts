/**
 * The service's configuration: every setting is a flag and an environment variable, validated once by
 * JSON schema at start. An invalid value is refused with a message naming the flag; nothing is
 * silently defaulted. One table (`SETTINGS`) drives parsing, validation and `--help`.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { parseArgs } from 'node:util';
import { Ajv } from 'ajv';
import { ConfigError, messageOf } from '../../shared/errors.ts';
import { DEFAULTS } from '../options.ts';
import { MIN_STALL_TIMEOUT_MS } from '../options.ts';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const MAX_INT32 = 2 ** 31 - 1;
/** `*`, or a name, IPv4 address or bracketed IPv6 address with an optional port. */
const HOST_ENTRY = '(\\*|[A-Za-z0-9.-]+(:[0-9]{1,5})?|\\[[0-9A-Fa-f:.]+\\](:[0-9]{1,5})?)';
const HOST_LIST_PATTERN = `^${HOST_ENTRY}( *, *${HOST_ENTRY})*$`;
/** Addresses that accept connections whatever the destination address, so any Host can reach them. */
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

interface Setting {
  flag: string;
  env: string;
  /** A standard variable also read, after `env` (OpenTelemetry's own). */
  standardEnv?: string;
  schema: Record<string, unknown>;
  default: () => number | string | undefined;
  help: string;
}

const int = (minimum: number, maximum = MAX_INT32) => ({ type: 'integer', minimum, maximum });

export const SETTINGS = {
  port: { flag: 'port', env: 'LANEPOOL_PORT', schema: int(0, 65_535), default: () => 8787, help: 'TCP port; 0 picks a free one' },
  host: { flag: 'host', env: 'LANEPOOL_HOST', schema: { type: 'string', minLength: 1 }, default: () => '127.0.0.1', help: 'address to bind; loopback unless you say otherwise' },
  shards: { flag: 'shards', env: 'LANEPOOL_SHARDS', schema: int(1, 1024), default: () => availableParallelism(), help: 'worker threads (default: the number of cores)' },
  taskTimeoutMs: { flag: 'task-timeout-ms', env: 'LANEPOOL_TASK_TIMEOUT_MS', schema: int(0), default: () => 120_000, help: 'deadline per intent from its start; 0 means none' },
  maxQueuedPerThread: { flag: 'max-queued-per-thread', env: 'LANEPOOL_MAX_QUEUED_PER_THREAD', schema: int(1), default: () => 1000, help: 'unsettled intents one thread may hold before 429' },
  stallTimeoutMs: { flag: 'stall-timeout-ms', env: 'LANEPOOL_STALL_TIMEOUT_MS', schema: int(0), default: () => 5000, help: `a worker whose event loop is silent this long is replaced; 0 turns the watchdog off, else at least ${MIN_STALL_TIMEOUT_MS}` },
  handlerLoadTimeoutMs: { flag: 'handler-load-timeout-ms', env: 'LANEPOOL_HANDLER_LOAD_TIMEOUT_MS', schema: int(0), default: () => 30_000, help: 'each worker must load the provider (import and factory) within this, or its shard fails (and so does the start); 0 means no limit' },
  maxQueued: { flag: 'max-queued', env: 'LANEPOOL_MAX_QUEUED', schema: int(1), default: () => 100_000, help: 'unsettled intents the service may hold before 429' },
  maxQueuedBytes: { flag: 'max-queued-bytes', env: 'LANEPOOL_MAX_QUEUED_BYTES', schema: int(1, Number.MAX_SAFE_INTEGER), default: () => DEFAULTS.maxQueuedBytes, help: 'bytes of unsettled intents the service may hold before 429, each counted as twice its body (default: a quarter of the heap limit)' },
  maxQueuedBytesPerThread: { flag: 'max-queued-bytes-per-thread', env: 'LANEPOOL_MAX_QUEUED_BYTES_PER_THREAD', schema: int(1, Number.MAX_SAFE_INTEGER), default: () => DEFAULTS.maxQueuedBytesPerKey, help: 'bytes of unsettled intents one thread may hold before 429, counted as for --max-queued-bytes (default: a sixteenth of the heap limit)' },
  maxQueuedControl: { flag: 'max-queued-control', env: 'LANEPOOL_MAX_QUEUED_CONTROL', schema: int(1), default: () => DEFAULTS.maxQueuedControl, help: 'unsettled stops and interrupts the service may hold beyond the other bounds before 429' },
  handler: { flag: 'handler', env: 'LANEPOOL_HANDLER', schema: { type: 'string', minLength: 1 }, default: () => undefined, help: 'your provider module (default: the built-in simulator); exclusive with --provider codex or acp' },
  provider: { flag: 'provider', env: 'LANEPOOL_PROVIDER', schema: { enum: ['simulator', 'codex', 'acp'] }, default: () => 'simulator', help: 'the built-in provider: simulator, codex (one `codex app-server` per thread session) or acp (one Agent Client Protocol agent per thread session, --agent-command)' },
  codexCommand: { flag: 'codex-command', env: 'LANEPOOL_CODEX_COMMAND', schema: { type: 'string', minLength: 1 }, default: () => 'codex app-server', help: '--provider codex: the command that starts an app-server, split on spaces (codex found on PATH or in node_modules/.bin)' },
  agentCommand: { flag: 'agent-command', env: 'LANEPOOL_AGENT_COMMAND', schema: { type: 'string', minLength: 1 }, default: () => undefined, help: '--provider acp: the command that starts the ACP agent, split on spaces (required with --provider acp)' },
  workspaceRoot: { flag: 'workspace-root', env: 'LANEPOOL_WORKSPACE_ROOT', schema: { type: 'string', minLength: 1 }, default: () => process.cwd(), help: 'agent providers: every session\'s working directory (payload.cwd) must lie inside this directory (default: the current directory)' },
  agentStopGraceMs: { flag: 'agent-stop-grace-ms', env: 'LANEPOOL_AGENT_STOP_GRACE_MS', schema: int(0, 600_000), default: () => 2000, help: 'agent providers: a stopped agent process gets SIGTERM, then SIGKILL after this long' },
  token: { flag: 'token', env: 'LANEPOOL_TOKEN', schema: { type: 'string', minLength: 8, pattern: '^\\S(.*\\S)?$' }, default: () => undefined, help: 'require "Authorization: Bearer <token>" on every route but /healthz' },
  bodyLimit: { flag: 'body-limit', env: 'LANEPOOL_BODY_LIMIT', schema: int(1024), default: () => 1_048_576, help: 'largest request body in bytes (at least 1024); larger gets 413' },
  requestTimeoutMs: { flag: 'request-timeout-ms', env: 'LANEPOOL_REQUEST_TIMEOUT_MS', schema: int(0), default: () => 30_000, help: 'a request whose headers and body take longer to arrive gets 408 and is closed (the response is not limited); 0 means none' },
  headersTimeoutMs: { flag: 'headers-timeout-ms', env: 'LANEPOOL_HEADERS_TIMEOUT_MS', schema: int(1), default: () => 10_000, help: 'the same for the headers alone, and for a connection that sends nothing; at most --request-timeout-ms' },
  keepAliveTimeoutMs: { flag: 'keep-alive-timeout-ms', env: 'LANEPOOL_KEEP_ALIVE_TIMEOUT_MS', schema: int(1), default: () => 5000, help: 'an idle keep-alive connection is closed after this long' },
  allowedHosts: { flag: 'allowed-hosts', env: 'LANEPOOL_ALLOWED_HOSTS', schema: { type: 'string', pattern: HOST_LIST_PATTERN }, default: () => undefined, help: 'Host header values accepted, comma-separated, * for any (default: the bound host and loopback names; a wildcard --host needs it)' },
  sseMaxBufferBytes: { flag: 'sse-max-buffer-bytes', env: 'LANEPOOL_SSE_MAX_BUFFER_BYTES', schema: int(1024), default: () => 1_048_576, help: 'an events subscriber this many bytes behind is disconnected (lanepool_sse_dropped_total)' },
  eventsPerThread: { flag: 'events-per-thread', env: 'LANEPOOL_EVENTS_PER_THREAD', schema: int(1, 1_000_000), default: () => 1000, help: 'events kept per thread for clients that reconnect with Last-Event-ID; older ones go first' },
  eventsMaxAgeMs: { flag: 'events-max-age-ms', env: 'LANEPOOL_EVENTS_MAX_AGE_MS', schema: int(1000), default: () => 300_000, help: 'how long a thread event is kept for reconnecting clients' },
  eventsMaxThreads: { flag: 'events-max-threads', env: 'LANEPOOL_EVENTS_MAX_THREADS', schema: int(1), default: () => 10_000, help: 'threads whose events are kept; past it the least recently active thread\'s buffer goes' },
  eventsMaxBytes: { flag: 'events-max-bytes', env: 'LANEPOOL_EVENTS_MAX_BYTES', schema: int(1024, Number.MAX_SAFE_INTEGER), default: () => 64 * 1024 * 1024, help: 'characters of thread events kept in all; past it the least recently active threads\' buffers go' },
  graceMs: { flag: 'grace-ms', env: 'LANEPOOL_GRACE_MS', schema: int(0), default: () => 10_000, help: 'on SIGTERM/SIGINT, how long to drain before cancelling what is left' },
  recordsMax: { flag: 'records-max', env: 'LANEPOOL_RECORDS_MAX', schema: int(1), default: () => 10_000, help: 'settled intent records kept for GET /v1/intents/:id' },
  recordsMaxAgeMs: { flag: 'records-max-age-ms', env: 'LANEPOOL_RECORDS_MAX_AGE_MS', schema: int(1), default: () => 600_000, help: 'how long a settled intent record is kept' },
  maxSessionsPerWorker: { flag: 'max-sessions-per-worker', env: 'LANEPOOL_MAX_SESSIONS_PER_WORKER', schema: int(1), default: () => 10_000, help: 'live provider sessions per worker; past it the least recently used idle one is stopped' },
  sessionIdleMs: { flag: 'session-idle-ms', env: 'LANEPOOL_SESSION_IDLE_MS', schema: int(0), default: () => 1_800_000, help: 'a session with no intent for this long is stopped; 0 means never' },
  maxResumeCursorsPerWorker: { flag: 'max-resume-cursors-per-worker', env: 'LANEPOOL_MAX_RESUME_CURSORS_PER_WORKER', schema: int(0), default: () => 100_000, help: 'stopped-by-eviction threads whose cursor is kept so their next turn resumes; 0 keeps none' },
  stuckAfterMs: { flag: 'stuck-after-ms', env: 'LANEPOOL_STUCK_AFTER_MS', schema: int(1), default: () => 30_000, help: 'a lane whose running intent is older than this counts as stuck in /metrics' },
  otlpEndpoint: { flag: 'otlp-endpoint', env: 'LANEPOOL_OTLP_ENDPOINT', standardEnv: 'OTEL_EXPORTER_OTLP_ENDPOINT', schema: { type: 'string', pattern: '^https?://[^\\s]+$' }, default: () => undefined, help: 'export an OpenTelemetry span per intent (and the provider\'s spans in the workers) over OTLP/HTTP to <url>/v1/traces; also OTEL_EXPORTER_OTLP_ENDPOINT (default: nothing exported)' },
  logLevel: { flag: 'log-level', env: 'LANEPOOL_LOG_LEVEL', schema: { enum: LOG_LEVELS }, default: () => 'info', help: `pino log level: ${LOG_LEVELS.join(', ')}` },
  nats: { flag: 'nats', env: 'LANEPOOL_NATS', schema: { type: 'string', pattern: '^(nats|tls|ws|wss)://[^\\s]+$' }, default: () => undefined, help: 'JetStream mode: a NATS server URL (nats-server -js); intents go through its stream' },
  natsStream: { flag: 'nats-stream', env: 'LANEPOOL_NATS_STREAM', schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,32}$' }, default: () => 'LANEPOOL', help: 'JetStream mode: the stream name; its KV buckets are named after it' },
  natsPartitions: { flag: 'nats-partitions', env: 'LANEPOOL_NATS_PARTITIONS', schema: int(1, 1024), default: () => 16, help: 'JetStream mode: partitions of the stream (fixed when the stream is made)' },
  partitions: { flag: 'partitions', env: 'LANEPOOL_PARTITIONS', schema: { type: 'string', pattern: '^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$' }, default: () => undefined, help: 'JetStream mode: consume exactly these partitions, e.g. 0-7 or 0,3,8-11 (default: share them among live instances)' },
  instanceId: { flag: 'instance-id', env: 'LANEPOOL_INSTANCE_ID', schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' }, default: () => undefined, help: 'JetStream mode: this instance\'s name in leases (default: host-pid-random)' },
  leaseTtlMs: { flag: 'lease-ttl-ms', env: 'LANEPOOL_LEASE_TTL_MS', schema: int(500, 600_000), default: () => 5000, help: 'JetStream mode: a dead instance\'s partitions are taken over after this long' },
  ackWaitMs: { flag: 'ack-wait-ms', env: 'LANEPOOL_ACK_WAIT_MS', schema: int(1000, 3_600_000), default: () => 30_000, help: 'JetStream mode: redelivery timeout; running intents send in-progress acks every third of it' },
  maxAckPending: { flag: 'max-ack-pending', env: 'LANEPOOL_MAX_ACK_PENDING', schema: int(1, 100_000), default: () => 1000, help: 'JetStream mode: unacknowledged intents per partition, the backpressure' },
  handoffTimeoutMs: { flag: 'handoff-timeout-ms', env: 'LANEPOOL_HANDOFF_TIMEOUT_MS', schema: int(0), default: () => 10_000, help: 'JetStream mode: how long a partition being handed over waits for its running intents before cancelling them for the new owner to rerun' },
  simStartMs: { flag: 'sim-start-ms', env: 'LANEPOOL_SIM_START_MS', schema: int(0, 60_000), default: () => 5, help: 'simulator: session start latency' },
  simSendMs: { flag: 'sim-send-ms', env: 'LANEPOOL_SIM_SEND_MS', schema: int(0, 60_000), default: () => 3, help: 'simulator: send-turn (and respond) latency' },
  simInterruptMs: { flag: 'sim-interrupt-ms', env: 'LANEPOOL_SIM_INTERRUPT_MS', schema: int(0, 60_000), default: () => 1, help: 'simulator: interrupt latency' },
  simStopMs: { flag: 'sim-stop-ms', env: 'LANEPOOL_SIM_STOP_MS', schema: int(0, 60_000), default: () => 2, help: 'simulator: session stop latency' },
} as const satisfies Record<string, Setting>;

type Name = keyof typeof SETTINGS;

export interface ServiceConfig {
  port: number;
  host: string;
  shards: number;
  taskTimeoutMs: number;
  maxQueuedPerThread: number;
  maxQueued: number;
  maxQueuedBytes: number;
  maxQueuedBytesPerThread: number;
  maxQueuedControl: number;
  stallTimeoutMs: number;
  handlerLoadTimeoutMs: number;
  /** Absolute path of the provider module, or undefined for a built-in provider. */
  handler: string | undefined;
  /** The built-in provider, when there is no --handler. */
  provider: 'simulator' | 'codex' | 'acp';
  codexCommand: string;
  agentCommand: string | undefined;
  /** Absolute, resolved, existing directory. */
  workspaceRoot: string;
  agentStopGraceMs: number;
  token: string | undefined;
  bodyLimit: number;
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** Parsed `--allowed-hosts`, lower-cased; undefined means the bound host and the loopback names. */
  allowedHosts: string[] | undefined;
  sseMaxBufferBytes: number;
  eventsPerThread: number;
  eventsMaxAgeMs: number;
  eventsMaxThreads: number;
  eventsMaxBytes: number;
  graceMs: number;
  recordsMax: number;
  recordsMaxAgeMs: number;
  maxSessionsPerWorker: number;
  sessionIdleMs: number;
  maxResumeCursorsPerWorker: number;
  stuckAfterMs: number;
  logLevel: (typeof LOG_LEVELS)[number];
  /** OTLP/HTTP base URL; undefined exports nothing (the SDK is not even loaded). */
  otlpEndpoint: string | undefined;
  /** JetStream mode when set; in memory otherwise. */
  nats: string | undefined;
  natsStream: string;
  natsPartitions: number;
  /** Parsed `--partitions`; undefined shares the partitions among live instances. */
  partitions: number[] | undefined;
  instanceId: string | undefined;
  leaseTtlMs: number;
  ackWaitMs: number;
  maxAckPending: number;
  handoffTimeoutMs: number;
  simStartMs: number;
  simSendMs: number;
  simInterruptMs: number;
  simStopMs: number;
}

const NAMES = Object.keys(SETTINGS) as Name[];
const validate = new Ajv({ allErrors: false, strict: true }).compile({
  type: 'object',
  additionalProperties: false,
  properties: Object.fromEntries(NAMES.map((name) => [name, SETTINGS[name].schema])),
});

/**
 * Builds the config from command-line flags, then environment variables, then defaults.
 * @throws ConfigError naming the flag and its environment variable.
 */
export function configFromArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: joinNegativeValues(argv),
      options: Object.fromEntries(NAMES.map((name) => [SETTINGS[name].flag, { type: 'string' as const }])),
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new ConfigError({ detail: messageOf(error) });
  }
  const raw: Record<string, unknown> = {};
  for (const name of NAMES) {
    const { flag, env: variable, standardEnv } = SETTINGS[name] as Setting;
    const text = values[flag] ?? env[variable] ?? (standardEnv === undefined ? undefined : env[standardEnv]);
    if (typeof text === 'string') raw[name] = fromText(name, text);
  }
  return resolveConfig(raw);
}

/** Applies defaults to a partial config and validates it, as for the command line. */
export function resolveConfig(partial: Partial<Record<Name, unknown>>): ServiceConfig {
  const config: Record<string, unknown> = {};
  for (const name of NAMES) {
    const value = partial[name] ?? SETTINGS[name].default();
    if (value !== undefined) config[name] = value;
  }
  // A caller (a test) may pass the parsed list; validate it as the flag's text.
  if (Array.isArray(config.allowedHosts)) config.allowedHosts = config.allowedHosts.join(',');
  for (const name of Object.keys(partial)) {
    if (!(name in SETTINGS)) throw new ConfigError({ detail: `unknown setting ${JSON.stringify(name)}` });
  }
  if (!validate(config)) {
    const [error] = validate.errors ?? [];
    const name = (error?.instancePath.slice(1) ?? '') as Name;
    const setting = SETTINGS[name];
    const where = setting ? `--${setting.flag} (${setting.env})` : 'config';
    const allowed = error?.keyword === 'enum' ? ` (${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')})` : '';
    throw new ConfigError({ detail: `invalid ${where}: ${error?.message ?? 'invalid'}${allowed}, got ${JSON.stringify(config[name])}` });
  }
  // Node refuses a headers timeout longer than the request timeout (the request includes its headers).
  if ((config.requestTimeoutMs as number) > 0 && (config.headersTimeoutMs as number) > (config.requestTimeoutMs as number)) {
    throw new ConfigError({ detail: `invalid --headers-timeout-ms (LANEPOOL_HEADERS_TIMEOUT_MS): must be <= --request-timeout-ms (${config.requestTimeoutMs}), got ${config.headersTimeoutMs}` });
  }
  if (typeof config.allowedHosts === 'string') {
    config.allowedHosts = config.allowedHosts.split(',').map((entry) => entry.trim().toLowerCase());
  } else if (WILDCARD_HOSTS.has(config.host as string)) {
    // Any name that resolves here reaches a wildcard bind, a DNS-rebinding page's included: the user
    // must say which names the clients use, or accept any with `*`.
    throw new ConfigError({ detail: `invalid --host (LANEPOOL_HOST): ${config.host} accepts connections for any name, so it needs --allowed-hosts (LANEPOOL_ALLOWED_HOSTS): the names clients use, or * to accept any` });
  }
  // Not in the schema: "0 or at least 100" would come out of Ajv as an anyOf message without the floor.
  if ((config.stallTimeoutMs as number) > 0 && (config.stallTimeoutMs as number) < MIN_STALL_TIMEOUT_MS) {
    throw new ConfigError({ detail: `invalid --stall-timeout-ms (LANEPOOL_STALL_TIMEOUT_MS): must be 0 (off) or at least ${MIN_STALL_TIMEOUT_MS}, got ${config.stallTimeoutMs}` });
  }
  if (typeof config.handler === 'string') {
    const path = resolvePath(config.handler);
    if (!existsSync(path)) throw new ConfigError({ detail: `invalid --handler (LANEPOOL_HANDLER): no file at ${path}` });
    config.handler = path;
  }
  if (config.handler !== undefined && config.provider !== 'simulator') {
    throw new ConfigError({ detail: `invalid --provider (LANEPOOL_PROVIDER): ${config.provider} and --handler are exclusive, pick one` });
  }
  if (config.provider === 'acp' && config.agentCommand === undefined) {
    throw new ConfigError({ detail: 'invalid --agent-command (LANEPOOL_AGENT_COMMAND): --provider acp needs it, the command that starts the agent' });
  }
  if (config.agentCommand !== undefined && config.provider !== 'acp') {
    throw new ConfigError({ detail: 'invalid --agent-command (LANEPOOL_AGENT_COMMAND): it needs --provider acp' });
  }
  {
    const root = resolvePath(config.workspaceRoot as string);
    if (!existsSync(root) || !statSync(root).isDirectory()) {
      throw new ConfigError({ detail: `invalid --workspace-root (LANEPOOL_WORKSPACE_ROOT): no directory at ${root}` });
    }
    config.workspaceRoot = realpathSync(root);
  }
  if (config.nats === undefined) {
    const orphan = (['partitions', 'instanceId'] as const).find((name) => config[name] !== undefined);
    if (orphan) throw new ConfigError({ detail: `invalid --${SETTINGS[orphan].flag} (${SETTINGS[orphan].env}): it needs --nats` });
  }
  if (typeof config.partitions === 'string') {
    const parsed = parsePartitionList(config.partitions, config.natsPartitions as number);
    if (typeof parsed === 'string') throw new ConfigError({ detail: `invalid --partitions (LANEPOOL_PARTITIONS): ${parsed}` });
    config.partitions = parsed;
  }
  return config as unknown as ServiceConfig;
}

/**
 * `--grace-ms -1` would make parseArgs take `-1` for an option and refuse it as ambiguous; a value
 * that looks like a negative number is joined to its flag (`--grace-ms=-1`), so the schema can say
 * what is wrong with it.
 */
function joinNegativeValues(argv: string[]): string[] {
  const flags = new Set(NAMES.map((name) => `--${SETTINGS[name].flag}`));
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (flags.has(arg) && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

/** Integers are parsed strictly ("12abc" stays text, so the schema refuses it with the flag's name). */
function fromText(name: Name, text: string): unknown {
  const schema = SETTINGS[name].schema as { type?: string };
  if (schema.type === 'integer' && /^-?\d+$/.test(text.trim())) return Number(text.trim());
  return text;
}

/** The `--help` text. */
export function usage(): string {
  const rows = NAMES.map((name) => {
    const { flag, env, help } = SETTINGS[name];
    const fallback = SETTINGS[name].default();
    const shown = name === 'shards' ? 'cores' : fallback;
    return `  --${flag.padEnd(24)} ${help}${shown === undefined ? '' : ` [${shown}]`}\n  ${' '.repeat(26)} env ${env}`;
  });
  return [
    'Usage: lanepool serve [flags]',
    '',
    'Runs the provider command reactor over HTTP: each thread\'s intents go through a LanePool keyed by',
    'threadId, so one hung thread never stalls the others. Every flag can also be set by its environment',
    'variable; a flag wins over the variable. Invalid values are refused at start.',
    '',
    ...rows,
    `  --${'help'.padEnd(24)} show this help`,
  ].join('\n');
}

/** Parses `--partitions` ("0-7", "0,3,8-11") into a sorted list, checked against the partition count. */
export function parsePartitionList(text: string, partitions: number): number[] | string {
  const chosen = new Set<number>();
  for (const part of text.split(',')) {
    const match = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!match) return `"${part}" is not N or N-M`;
    const from = Number(match[1]);
    const to = match[2] === undefined ? from : Number(match[2]);
    if (from > to) return `"${part}" runs backwards`;
    if (to >= partitions) return `partition ${to} is out of range 0-${partitions - 1}`;
    for (let p = from; p <= to; p++) chosen.add(p);
  }
  return [...chosen].sort((a, b) => a - b);
}
