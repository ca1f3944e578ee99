import { connect, type LibvirtConnection } from '../src/index.ts';
import { startLibvirtHost } from '../test/harness/index.ts';
import { setUpGuests } from './bench-guests.ts';
import { daemonPid, shareOurPriority } from './daemon-process.ts';
import { runOurs } from './our-throughput.ts';
import { pythonServer } from './python-baseline.ts';

/** What a probe that pairs one connection of ours with one long-lived python works with. */
export interface ProbeSetup {
  daemon: number;
  /** The daemon's priority, as `shareOurPriority` gave it: for the probe's header. */
  daemonPriority: string;
  conn: LibvirtConnection;
  uuids: string[];
  python: Awaited<ReturnType<typeof pythonServer>>;
}

/**
 * Starts a harness libvirtd at this process's priority, defines the bench's guests, warms our
 * connection up (2000 operations, 16 in flight) and starts python's long-lived connection (warmed up
 * too), runs `probe`, then closes all of it, also when `probe` fails.
 */
export async function withProbeSetup(
  prefix: string,
  probe: (setup: ProbeSetup) => Promise<void>,
): Promise<void> {
  const host = await startLibvirtHost();
  try {
    const daemon = daemonPid(host.stateDir);
    const daemonPriority = shareOurPriority(daemon);
    const conn = await connect(host.unixUri);
    try {
      const { uuids } = await setUpGuests(conn, host, prefix);
      await runOurs(conn, uuids, 2000, 16, daemon);
      const python = await pythonServer(host.unixUri, uuids, daemon);
      try {
        await probe({ daemon, daemonPriority, conn, uuids, python });
      } finally {
        python.close();
      }
    } finally {
      await conn.close();
    }
  } finally {
    await host.stop();
  }
}
