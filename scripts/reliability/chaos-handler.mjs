// The chaos scenario's handler: ordinary work, plus the failures the scenario injects.
export default async function chaos(payload) {
  switch (payload.op) {
    case 'work':
      for (let i = 0; i < payload.yields; i++) await new Promise((resolve) => setImmediate(resolve));
      return payload.seq;
    case 'hang':
      return new Promise(() => {});
    case 'spin':
      if (payload.gate) {
        // Tell the measuring script the moment the worker freezes.
        const cells = new Int32Array(payload.gate);
        Atomics.store(cells, 0, 1);
        Atomics.notify(cells, 0);
      }
      for (;;) {
        // A synchronous hang: only the watchdog gets this worker back.
      }
    case 'exit':
      process.exit(1);
      break;
    default:
      throw new TypeError(`unknown op ${payload.op}`);
  }
}
