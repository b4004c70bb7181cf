// The events benchmark's handler: emits `payload.events` small objects (a streamed token each), then
// answers as the dispatch handler does. With `payload.yield`, it waits a turn of the event loop
// before each event, as a handler relaying a stream does, so every batch carries single events.
export default async function emit(payload, { emit }) {
  for (let seq = 0; seq < payload.events; seq++) {
    if (payload.yield) await new Promise((resolve) => setImmediate(resolve));
    emit({ type: 'token', text: 'hello', seq });
  }
  return payload.n + 1;
}
