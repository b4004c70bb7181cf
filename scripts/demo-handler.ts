// The demo's handler: a provider whose session start hangs for one thread and is quick for the rest.
import type { Handler } from '../src/shared/handler.ts';

interface Intent {
  type: 'start' | 'stop';
  hang?: boolean;
}

const handler: Handler<Intent, string> = async (intent, ctx) => {
  if (intent.type === 'stop') return `stopped ${ctx.key}`;
  if (intent.hang) await new Promise(() => {}); // a session start that never returns
  await new Promise((resolve) => setTimeout(resolve, 5));
  return `started ${ctx.key} on shard ${ctx.shard}`;
};

export default handler;
