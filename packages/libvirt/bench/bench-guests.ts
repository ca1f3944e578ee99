import { randomUUID } from 'node:crypto';
import type { Domain, LibvirtConnection } from '../src/index.ts';
import { guestXml, type LibvirtHost } from '../test/harness/index.ts';

/**
 * The guests the throughput workload cycles over: `count` diskless guests defined on the harness
 * host, the first one running (info and state of a live QEMU domain; the bench times its events).
 */
export async function setUpGuests(
  conn: LibvirtConnection,
  host: LibvirtHost,
  prefix: string,
  count = 8,
): Promise<{ uuids: string[]; running: Domain }> {
  const domains: Domain[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${prefix}-${host.name}-${i}`;
    domains.push(await conn.domains.defineXml(guestXml({ name, uuid: randomUUID() })));
  }
  const running = await conn.domains.create(domains[0] as Domain);
  return { uuids: domains.map((d) => d.uuid), running };
}
