// The cpu benchmark's handler: 1 ms of CPU per task (payload.ms overrides), shared by every design.
export default async function burn(payload) {
  const end = performance.now() + (payload.ms ?? 1);
  let spins = 0;
  while (performance.now() < end) spins++;
  return spins;
}
