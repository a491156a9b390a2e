const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Workflow ids are UUIDs; anything else names nothing (and must not reach a uuid cast): the nil UUID, which no row has. */
export function uuidOr(id: string): string {
  return UUID.test(id) ? id : '00000000-0000-0000-0000-000000000000';
}
