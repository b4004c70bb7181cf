import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/main/index.ts';
import { configFromArgs, SETTINGS, usage } from '../../src/main/service/config.ts';
import { splitCommand } from '../../src/main/service/service-pool.ts';

describe('service config', () => {
  it('defaults to loopback on 8787 with the simulator', () => {
    const config = configFromArgs([], {});
    expect(config).toMatchObject({ host: '127.0.0.1', port: 8787, bodyLimit: 1_048_576 });
    expect(config.handler).toBeUndefined();
    expect(config.token).toBeUndefined();
  });

  it('reads every flag from its environment variable, and a flag wins over the variable', () => {
    expect(configFromArgs([], { LANEPOOL_SHARDS: '3', LANEPOOL_SIM_START_MS: '7' })).toMatchObject({ shards: 3, simStartMs: 7 });
    expect(configFromArgs(['--shards', '4'], { LANEPOOL_SHARDS: '3' }).shards).toBe(4);
    expect(configFromArgs([], { LANEPOOL_STALL_TIMEOUT_MS: '0', LANEPOOL_HANDLER_LOAD_TIMEOUT_MS: '500' })).toMatchObject({ stallTimeoutMs: 0, handlerLoadTimeoutMs: 500 });
    for (const setting of Object.values(SETTINGS)) expect(usage()).toContain(`--${setting.flag}`);
    for (const setting of Object.values(SETTINGS)) expect(usage()).toContain(setting.env);
  });

  it('are listed exactly in the README Flags table', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.split('### Flags')[1]?.split('\n### ')[0] ?? '';
    const rows = section.split('\n').filter((line) => line.startsWith('| `--'));
    const documented = rows.flatMap((row) => [...row.split(' | ')[0]!.matchAll(/`--([a-z-]+)`/g)].map((m) => m[1]));
    expect([...documented].sort()).toEqual(Object.values(SETTINGS).map((s) => s.flag).sort());
  });

  const refused: [string, string[], Record<string, string>, RegExp][] = [
    ['a non-numeric port', ['--port', '80a'], {}, /invalid --port \(LANEPOOL_PORT\): must be integer, got "80a"/],
    ['a port out of range', ['--port', '70000'], {}, /invalid --port .*must be <= 65535/],
    ['zero shards from the environment', [], { LANEPOOL_SHARDS: '0' }, /invalid --shards \(LANEPOOL_SHARDS\)/],
    ['an unknown log level, listing the allowed ones', ['--log-level', 'loud'], {}, /invalid --log-level \(LANEPOOL_LOG_LEVEL\): .*\(fatal, error, warn, info, debug, trace, silent\), got "loud"/],
    ['a negative number given as a separate argument', ['--grace-ms', '-1'], {}, /invalid --grace-ms \(LANEPOOL_GRACE_MS\): must be >= 0, got -1/],
    ['a negative number joined to its flag', ['--grace-ms=-5'], {}, /invalid --grace-ms .*must be >= 0, got -5/],
    ['a headers timeout over the request timeout', ['--request-timeout-ms', '1000', '--headers-timeout-ms', '2000'], {}, /invalid --headers-timeout-ms .*must be <= --request-timeout-ms \(1000\), got 2000/],
    ['a body limit under 1024 bytes', ['--body-limit', '1023'], {}, /invalid --body-limit .*must be >= 1024/],
    ['a short token', ['--token', 'abc'], {}, /invalid --token .*must NOT have fewer than 8 characters/],
    // Header parsing trims whitespace around the token, so such a token could never match.
    ['a token with surrounding whitespace', ['--token', 'abcdefgh '], {}, /invalid --token .*must match pattern/],
    ['a missing handler file', ['--handler', '/nope/provider.mjs'], {}, /invalid --handler .*no file at/],
    ['an unknown flag', ['--prot', '1'], {}, /Unknown option '--prot'/],
    ['a stall timeout below the floor', [], { LANEPOOL_STALL_TIMEOUT_MS: '99' }, /invalid --stall-timeout-ms \(LANEPOOL_STALL_TIMEOUT_MS\): must be 0 \(off\) or at least 100, got 99/],
    ['a negative handler load timeout', ['--handler-load-timeout-ms=-1'], {}, /invalid --handler-load-timeout-ms \(LANEPOOL_HANDLER_LOAD_TIMEOUT_MS\)/],
  ];

  for (const [what, argv, env, message] of refused) {
    it(`refuses ${what}, naming the flag`, () => {
      expect(() => configFromArgs(argv, env)).toThrow(ConfigError);
      expect(() => configFromArgs(argv, env)).toThrow(message);
    });
  }
});

describe('agent command lines', () => {
  it('split on spaces, with ./ and ../ parts resolved against the directory the service started in', () => {
    expect(splitCommand('node  ./agents/fake.mjs --flag ../x app-server')).toEqual([
      'node', resolvePath('agents/fake.mjs'), '--flag', resolvePath('../x'), 'app-server',
    ]);
    expect(splitCommand('codex app-server')).toEqual(['codex', 'app-server']);
    expect(splitCommand('/usr/bin/node /abs/agent.js')).toEqual(['/usr/bin/node', '/abs/agent.js']);
  });
});
