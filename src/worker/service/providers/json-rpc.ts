/**
 * JSON-RPC 2.0 over a pair of streams, one JSON message per line (JSONL), as `codex app-server`
 * speaks it on stdio: without the `"jsonrpc":"2.0"` member, which the server omits and does not need.
 * Both sides send requests: the client's calls, and the server's own requests (approvals) that the
 * client must answer with `respond`.
 *
 * Invariant: every request this side sent is settled exactly once: by its response, by its signal,
 * or by `close` (the process exited), whichever comes first.
 */
import type { Readable, Writable } from 'node:stream';

/** A request id, as the peer sent it (a number or a string). */
export type RpcId = number | string;

/** The peer answered a request with an error. */
export class RpcError extends Error {
  readonly rpcCode: number;
  readonly data: unknown;
  constructor(method: string, error: { code?: unknown; message?: unknown; data?: unknown }) {
    super(`${method}: ${typeof error.message === 'string' ? error.message : 'error'} (${String(error.code)})`);
    this.name = 'RpcError';
    this.rpcCode = typeof error.code === 'number' ? error.code : 0;
    this.data = error.data;
  }
}

export interface RpcHandlers {
  notification(method: string, params: unknown): void;
  /** A request from the peer: answer it with `respond` or `respondError`, now or later. */
  request(id: RpcId, method: string, params: unknown): void;
}

/** The longest line kept while waiting for its newline: a peer that never sends one cannot grow memory. */
const MAX_LINE = 64 * 1024 * 1024;

export class JsonRpcConnection {
  readonly #output: Writable;
  readonly #handlers: RpcHandlers;
  readonly #pending = new Map<RpcId, { method: string; resolve(value: unknown): void; reject(error: unknown): void }>();
  #nextId = 1;
  #buffer = '';
  #closed: unknown;

  constructor(input: Readable, output: Writable, handlers: RpcHandlers) {
    this.#output = output;
    this.#handlers = handlers;
    input.setEncoding('utf8');
    input.on('data', (chunk: string) => this.#read(chunk));
  }

  /** Sends a request; resolves with its result, rejects with an `RpcError`, the signal's reason, or the close reason. */
  request(method: string, params: unknown, signal?: AbortSignal): Promise<unknown> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    if (signal?.aborted) return Promise.reject(signal.reason);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.#pending.delete(id);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = (): void => signal?.removeEventListener('abort', onAbort);
      this.#pending.set(id, {
        method,
        resolve: (value) => (done(), resolve(value)),
        reject: (error) => (done(), reject(error)),
      });
      this.#send({ id, method, params });
    });
  }

  notify(method: string, params?: unknown): void {
    this.#send(params === undefined ? { method } : { method, params });
  }

  respond(id: RpcId, result: unknown): void {
    this.#send({ id, result });
  }

  respondError(id: RpcId, code: number, message: string): void {
    this.#send({ id, error: { code, message } });
  }

  /** Rejects every pending request with `reason`, and every later one at once. */
  close(reason: unknown): void {
    if (this.#closed !== undefined) return;
    this.#closed = reason;
    for (const pending of this.#pending.values()) pending.reject(reason);
    this.#pending.clear();
  }

  #send(message: object): void {
    if (this.#closed !== undefined || this.#output.destroyed || this.#output.writableEnded) return;
    this.#output.write(`${JSON.stringify(message)}\n`);
  }

  #read(chunk: string): void {
    this.#buffer += chunk;
    let newline: number;
    while ((newline = this.#buffer.indexOf('\n')) !== -1) {
      const line = this.#buffer.slice(0, newline).trim();
      this.#buffer = this.#buffer.slice(newline + 1);
      if (line !== '') this.#message(line);
    }
    if (this.#buffer.length > MAX_LINE) this.#buffer = '';
  }

  #message(line: string): void {
    let message: { id?: RpcId; method?: unknown; params?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown; data?: unknown } };
    try {
      message = JSON.parse(line);
    } catch {
      return; // Not a message (a stray log line): ignored, as a JSONL reader must.
    }
    if (message === null || typeof message !== 'object') return;
    if (typeof message.method === 'string') {
      if (message.id !== undefined) this.#handlers.request(message.id, message.method, message.params);
      else this.#handlers.notification(message.method, message.params);
      return;
    }
    if (message.id === undefined) return;
    const pending = this.#pending.get(message.id);
    if (pending === undefined) return;
    this.#pending.delete(message.id);
    if (message.error !== undefined) pending.reject(new RpcError(pending.method, message.error ?? {}));
    else pending.resolve(message.result);
  }
}
