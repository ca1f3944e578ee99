import type { Logger } from 'pino';
import type { AgentConfig } from '../config/agent-config.ts';
import type { HypervisorDriver } from './driver.ts';
import { connectLink } from './libvirt/connect-link.ts';
import { LibvirtDriver } from './libvirt/libvirt-driver.ts';
import type { SharedTicker } from './simulated/shared-ticker.ts';
import { SimulatedDriver } from './simulated/simulated-driver.ts';

/** The driver the configuration names. */
export function createDriver(config: AgentConfig, log: Logger, ticker?: SharedTicker): HypervisorDriver {
  if (config.driver === 'simulated') {
    log.info({ vms: config.simulated.vmCount, seed: config.simulated.seed }, 'simulated hypervisor');
    return new SimulatedDriver({
      hostname: config.hostname,
      ...config.simulated,
      migrationUri: config.migrationUri,
      ticker,
    });
  }
  if (config.migrationUri === '') {
    log.info('no migration URI (--migration-uri): this host is not offered as a live-migration target');
  }
  return new LibvirtDriver({
    uri: config.libvirtUri,
    resyncIntervalMs: config.resyncIntervalMs,
    log,
    connect: connectLink,
    sharedStorage: config.sharedStorage,
  });
}
