// Makes sure `nats-server` (JetStream tests and `npm run jetstream`) is on this machine: the
// `pretest` step, and `.ci/run`. Installs Debian's package when running as root with apt-get;
// otherwise says exactly what to run. Exits non-zero if it is still missing.
import { spawnSync } from 'node:child_process';

const has = (command, args) => spawnSync(command, args, { stdio: 'ignore' }).status === 0;
const run = (command, args) => spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0;

if (!has('nats-server', ['--version'])) {
  const root = process.getuid?.() === 0;
  if (root && has('apt-get', ['--version'])) {
    console.error('nats-server is missing: installing Debian\'s nats-server package');
    if (!run('apt-get', ['install', '-y', '--no-install-recommends', 'nats-server'])) {
      run('apt-get', ['update']);
      run('apt-get', ['install', '-y', '--no-install-recommends', 'nats-server']);
    }
  }
  if (!has('nats-server', ['--version'])) {
    console.error('nats-server is required by the JetStream tests. Install it with: sudo apt-get install nats-server');
    process.exit(1);
  }
}
