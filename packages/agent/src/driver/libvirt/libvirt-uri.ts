import { isInvalidUri, parseLibvirtUri } from '@cockpit/libvirt';

/** Why `uri` is not a libvirt URI this agent can dial, or undefined when it is. */
export function libvirtUriProblem(uri: string): string | undefined {
  try {
    parseLibvirtUri(uri);
    return undefined;
  } catch (err) {
    if (isInvalidUri(err)) return (err as Error).message;
    throw err;
  }
}

/**
 * The default migration URI: a URI that names a host is how other hosts reach this libvirtd too; a
 * local one (unix socket) names no address others could use, so the host is no migration target until
 * --migration-uri says how to reach it.
 */
export function migrationUriFor(libvirtUri: string): string {
  try {
    return parseLibvirtUri(libvirtUri).transport === 'unix' ? '' : libvirtUri;
  } catch {
    return '';
  }
}
