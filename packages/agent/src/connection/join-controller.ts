import type { Logger } from 'pino';
import type { AgentConfig } from '../config/agent-config.ts';
import type { HypervisorDriver } from '../driver/driver.ts';
import { type HostCredential, saveCredential } from '../state/credential-store.ts';
import type { StateFiles } from '../state/state-dir.ts';
import { AGENT_VERSION } from '../version.ts';
import { Backoff, sleep } from './backoff.ts';
import { isCaPinError } from './ca-pin.ts';
import type { ControllerTrust } from './controller-trust.ts';
import { isJoinError, join } from './join.ts';

export interface JoinControllerOptions {
  config: AgentConfig;
  driver: HypervisorDriver;
  trust: ControllerTrust;
  files: StateFiles;
  log: Logger;
  signal: AbortSignal;
}

/**
 * Redeems the join token once and keeps the credential (0600) before using it. Retries, with backoff,
 * only while the controller cannot be reached (the token is then unspent); a refusal (wrong, expired or
 * used token) is thrown at once, never retried.
 */
export async function joinController(options: JoinControllerOptions): Promise<HostCredential> {
  const { config, log, signal } = options;
  const backoff = new Backoff();
  for (;;) {
    signal.throwIfAborted();
    try {
      const client = await options.trust.client();
      try {
        const credential = await join(client, {
          joinToken: config.joinToken ?? '',
          hostname: config.hostname,
          agentVersion: AGENT_VERSION,
          host: options.driver.hostInfo(),
        });
        await saveCredential(options.files, credential);
        log.info({ hostId: credential.hostId }, 'joined the controller; credential saved');
        return credential;
      } finally {
        client.close();
      }
    } catch (err) {
      const unreachable =
        (isJoinError(err) && err.code === 'unreachable') || (isCaPinError(err) && err.code === 'unreachable');
      if (!unreachable) throw err;
      const delayMs = backoff.next();
      log.warn(
        { err: (err as Error).message, retryInMs: delayMs, failures: backoff.failures },
        'cannot reach the controller to join',
      );
      await sleep(delayMs, signal);
    }
  }
}
