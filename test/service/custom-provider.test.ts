import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { http, startTestService, submit } from './helpers.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

describe('service with --handler', () => {
  it('runs intents through the user\'s provider module instead of the simulator', async () => {
    const service = await startTestService({ handler: fixture('provider.mjs') });
    try {
      const reply = await submit(service, 'mine', { type: 'thread.turn.start', payload: { input: 'quiet' } }, true);
      expect(reply.body).toMatchObject({ status: 'completed', result: { output: { shouted: 'QUIET' } } });
      expect(reply.body.result.sessionId).toMatch(/^custom-\d-mine-default$/);
      expect((await http(service, 'GET', '/v1/threads/mine')).body.session).toMatchObject({ status: 'ready', cursor: '1' });
    } finally {
      await service.shutdown();
    }
  });

  it('records a provider error without a code as ERR_HANDLER, and one with its own code as that code', async () => {
    const service = await startTestService({ handler: fixture('provider.mjs') });
    try {
      const plain = await submit(service, 'faulty', { type: 'thread.turn.start', payload: { input: 'throw' } }, true);
      expect(plain.body).toMatchObject({ status: 'failed', error: { code: 'ERR_HANDLER', message: 'the model API answered 500' } });
      const coded = await submit(service, 'faulty', { type: 'thread.turn.start', payload: { input: 'throw-coded' } }, true);
      expect(coded.body).toMatchObject({ status: 'failed', error: { code: 'E_QUOTA', message: 'over quota' } });
    } finally {
      await service.shutdown();
    }
  });

  it('refuses to start with a provider module that lacks methods', async () => {
    await expect(startTestService({ handler: fixture('bad-provider.mjs') })).rejects.toThrow(/lacks sendTurn, interruptTurn/);
  });
});
