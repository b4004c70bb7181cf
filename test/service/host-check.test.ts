import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/main/index.ts';
import { configFromArgs } from '../../src/main/service/config.ts';
import type { Service } from '../../src/main/service/server.ts';
import { startTestService } from './helpers.ts';
import { getWithHost } from './raw-socket.ts';

describe('service: the Host check', () => {
  let service: Service;
  let port: string;
  beforeAll(async () => {
    service = await startTestService();
    port = new URL(service.url).port;
  });
  afterAll(() => service.shutdown());

  it('accepts the bound host and the loopback names, with the bound port or none', async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`, '127.0.0.1', 'localhost']) {
      expect((await getWithHost(service, '/readyz', host)).status, host).toBe(200);
    }
  });

  it('refuses any other Host with 421 ERR_HOST_NOT_ALLOWED, as a DNS-rebinding page would send it', async () => {
    for (const host of ['evil.example', `evil.example:${port}`, 'localhost:1', `127.0.0.2:${port}`, `localhost.evil.example:${port}`]) {
      const reply = await getWithHost(service, '/readyz', host);
      expect(reply.status, host).toBe(421);
      expect(reply.text).toContain('"code":"ERR_HOST_NOT_ALLOWED"');
    }
    expect((await getWithHost(service, '/v1/threads/t', 'evil.example')).status).toBe(421);
  });

  it('leaves /healthz open to any Host, as a liveness probe by IP address needs', async () => {
    expect((await getWithHost(service, '/healthz', '10.1.2.3:8787')).status).toBe(200);
  });

  it('accepts exactly the names of --allowed-hosts, and any Host with *', async () => {
    const listed = await startTestService({ allowedHosts: ['api.example', 'proxy.example:8443'] });
    try {
      const listedPort = new URL(listed.url).port;
      expect((await getWithHost(listed, '/readyz', 'api.example')).status).toBe(200);
      expect((await getWithHost(listed, '/readyz', `api.example:${listedPort}`)).status).toBe(200);
      expect((await getWithHost(listed, '/readyz', 'proxy.example:8443')).status).toBe(200);
      expect((await getWithHost(listed, '/readyz', 'proxy.example')).status).toBe(421);
      expect((await getWithHost(listed, '/readyz', `127.0.0.1:${listedPort}`)).status).toBe(421);
    } finally {
      await listed.shutdown();
    }
    const any = await startTestService({ allowedHosts: ['*'] });
    try {
      expect((await getWithHost(any, '/readyz', 'whatever.example')).status).toBe(200);
    } finally {
      await any.shutdown();
    }
  });

  it('refuses to start on a wildcard address without --allowed-hosts, and a malformed list', () => {
    expect(() => configFromArgs(['--host', '0.0.0.0'], {})).toThrow(ConfigError);
    expect(() => configFromArgs(['--host', '::'], {})).toThrow(/--host .* needs --allowed-hosts/);
    expect(configFromArgs(['--host', '0.0.0.0', '--allowed-hosts', 'a.example, B.example:80'], {}).allowedHosts).toEqual(['a.example', 'b.example:80']);
    expect(() => configFromArgs(['--allowed-hosts', 'a b'], {})).toThrow(/invalid --allowed-hosts \(LANEPOOL_ALLOWED_HOSTS\)/);
  });
});
