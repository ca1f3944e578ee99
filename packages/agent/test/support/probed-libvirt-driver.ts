import { connectLink } from '../../src/driver/libvirt/connect-link.ts';
import { LibvirtDriver } from '../../src/driver/libvirt/libvirt-driver.ts';
import { createLogger } from '../../src/index.ts';
import type { Journal } from '../../src/journal/journal.ts';
import { probeJournal } from './journal-probe.ts';
import type { LogCapture } from './test-agent.ts';

/**
 * A libvirt driver on `uri` that records into a new probe journal and logs at debug into `log`; started.
 * `resyncIntervalMs`: how often it re-lists every domain.
 */
export async function probedLibvirtDriver(
  uri: string,
  log: LogCapture,
  resyncIntervalMs: number,
): Promise<{ driver: LibvirtDriver; journal: Journal; start: number }> {
  const { journal, start } = await probeJournal();
  const driver = new LibvirtDriver({
    uri,
    resyncIntervalMs,
    log: createLogger('debug', log.stream),
    connect: connectLink,
    backoff: { baseMs: 100, capMs: 1_000 },
  });
  await driver.start(journal);
  return { driver, journal, start };
}
