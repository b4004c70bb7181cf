// The chaos scenario's handler: ordinary work, plus the failures the scenario injects.
export default async function chaos(payload) {
  switch (payload.op) {
    case 'work':
      for (let i = 0; i < payload.yields; i++) await new Promise((resolve) => setImmediate(resolve));
      return payload.seq;
    case 'hang':
      return new Promise(() => {});
    case 'spin':
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
