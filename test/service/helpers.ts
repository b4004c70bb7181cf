/** Starts the real service on an ephemeral loopback port and talks real HTTP to it. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { resolveConfig, type ServiceConfig } from '../../src/main/service/config.ts';
import { startService, type Service } from '../../src/main/service/server.ts';
import { shardFor } from '../../src/main/routing.ts';

export async function startTestService(overrides: Partial<ServiceConfig> = {}): Promise<Service> {
  return startService(resolveConfig({ port: 0, host: '127.0.0.1', logLevel: 'silent', shards: 2, graceMs: 2000, ...overrides }));
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

export async function http(service: Service, method: 'GET' | 'POST', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const init: Parameters<typeof request>[1] = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const res = await request(`${service.url}${path}`, init);
  const text = await res.body.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON (metrics): keep the text.
  }
  return { status: res.statusCode, headers: res.headers, body: parsed };
}

export function submit(service: Service, threadId: string, intent: { type: string; payload: unknown; intentId?: string }, wait = false): Promise<Reply> {
  return http(service, 'POST', `/v1/threads/${threadId}/intents${wait ? '?wait=true' : ''}`, intent);
}

/** Distinct threadIds that route to the same shard, for a service with `shards` shards. */
export function threadsOnSameShard(count: number, shards: number, prefix = 'thread'): string[] {
  const wanted = shardFor(`${prefix}-0`, shards);
  const found: string[] = [];
  for (let i = 0; found.length < count; i++) if (shardFor(`${prefix}-${i}`, shards) === wanted) found.push(`${prefix}-${i}`);
  return found;
}

const BIN = fileURLToPath(new URL('../../src/main/service/bin.mjs', import.meta.url));

/**
 * Runs `lanepool serve ...args` as a real child process until it exits by itself. One still running
 * after `timeoutMs` (a hang detector only) is killed and reported with code null.
 */
export function runServe(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'serve', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}
