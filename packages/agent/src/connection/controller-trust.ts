import type { AgentServiceClient } from '@cockpit/proto';
import type { AgentConfig } from '../config/agent-config.ts';
import type { StateFiles } from '../state/state-dir.ts';
import { pinnedCa } from './ca-pin.ts';
import { createClient } from './channel.ts';

/**
 * How the agent trusts its controller, resolved once and reused: the CA file, the CA pinned by
 * fingerprint (fetched on first contact, saved in the state folder), or plaintext on loopback.
 */
export class ControllerTrust {
  private rootCerts: string | undefined;

  constructor(
    private readonly config: AgentConfig,
    private readonly files: StateFiles,
  ) {}

  /** A new client for one attempt. Rejects with a CaPinError when the pin cannot be checked or fails. */
  async client(): Promise<AgentServiceClient> {
    return createClient(this.config.controller, await this.roots());
  }

  private async roots(): Promise<string | undefined> {
    const tls = this.config.tls;
    if (tls.mode === 'insecure-plaintext') return undefined;
    if (tls.mode === 'ca-file') return tls.caPem;
    this.rootCerts ??= await pinnedCa(this.config.controller, tls.fingerprint, this.files.controllerCa);
    return this.rootCerts;
  }
}
