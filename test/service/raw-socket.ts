/** A raw TCP client for what undici will not do: trickle a body, send any Host, or stop reading. */
import { connect, type Socket } from 'node:net';
import type { Service } from '../../src/main/service/server.ts';

export interface RawClient {
  socket: Socket;
  /** Everything the server sent, so far. */
  received(): string;
  /** Resolves with everything the server sent once it closes the connection. */
  closed: Promise<string>;
}

export async function rawClient(service: Service): Promise<RawClient> {
  const { port } = new URL(service.url);
  const socket = connect(Number(port), '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  // A reset after the server's answer is a close too (the server may not read what we still send).
  const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(text)));
  socket.on('error', () => {});
  return { socket, received: () => text, closed };
}

/** Writes one byte every `everyMs` until the socket closes; returns the function that stops it. */
export function trickle(socket: Socket, everyMs: number): () => void {
  const timer = setInterval(() => {
    if (!socket.destroyed && socket.writable) socket.write('x');
  }, everyMs);
  socket.once('close', () => clearInterval(timer));
  return () => clearInterval(timer);
}

/** Sends `GET path` with the given Host (none when undefined) and `Connection: close`; resolves with the response. */
export async function getWithHost(service: Service, path: string, host: string | undefined, headers = ''): Promise<{ status: number; text: string }> {
  const client = await rawClient(service);
  client.socket.write(`GET ${path} HTTP/1.1\r\n${host === undefined ? '' : `Host: ${host}\r\n`}Connection: close\r\n${headers}\r\n`);
  const text = await client.closed;
  return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), text };
}
