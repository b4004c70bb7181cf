// The dispatch benchmark's handler, shared by LanePool and plain piscina: a trivial async task.
export default async function add(payload) {
  return payload.n + 1;
}
