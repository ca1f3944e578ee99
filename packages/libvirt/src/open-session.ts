import { LibvirtClientError } from './errors.ts';
import { VIR_CONNECT_RO, VIR_DRV_FEATURE_PROGRAM_KEEPALIVE } from './protocol/libvirt-constants.gen.ts';
import type { RemoteProcedures } from './protocol/remote-procedures.gen.ts';
import { REMOTE_AUTH_NONE, REMOTE_AUTH_POLKIT } from './protocol/remote-types.gen.ts';
import type { CallOptions } from './rpc/remote-caller.ts';

export interface SessionOptions {
  readOnly: boolean;
  /** Whether we run keepalive (then the daemon is asked to ping us too). */
  keepalive: boolean;
  signal: AbortSignal | undefined;
}

/** The handshake of a fresh stream: authenticate, CONNECT_OPEN, and the keepalive feature. */
export async function openSession(
  remote: RemoteProcedures,
  name: string,
  opts: SessionOptions,
): Promise<void> {
  const callOpts: CallOptions = { signal: opts.signal };
  await authenticate(remote, callOpts);
  await remote.connectOpen({ name, flags: opts.readOnly ? VIR_CONNECT_RO : 0 }, callOpts);
  if (opts.keepalive) {
    // Asking about the keepalive feature is what makes libvirtd start pinging us too.
    await remote.connectSupportsFeature({ feature: VIR_DRV_FEATURE_PROGRAM_KEEPALIVE }, callOpts);
  }
}

/** AUTH_LIST, then polkit if that is what the daemon wants; SASL is AUTH_UNSUPPORTED. */
async function authenticate(remote: RemoteProcedures, opts: CallOptions): Promise<void> {
  const { types } = await remote.authList(opts);
  if (types.length === 0 || types.includes(REMOTE_AUTH_NONE)) return;
  if (types.includes(REMOTE_AUTH_POLKIT)) {
    const { complete } = await remote.authPolkit(opts);
    if (complete !== 0) return;
  }
  throw new LibvirtClientError(
    'AUTH_UNSUPPORTED',
    `daemon requires authentication types [${types.join(', ')}]`,
  );
}
