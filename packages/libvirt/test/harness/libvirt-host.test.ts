import { randomUUID } from 'node:crypto';
import { readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestXml } from './guest-xml.ts';
import { isLibvirtHostError, type LibvirtHost, startLibvirtHost } from './libvirt-host.ts';
import { virsh, virshDominfo, virshListAll } from './virsh.ts';
import { waitFor } from './wait-for.ts';

/** Pids of processes whose UTS namespace is `utsNs` ("uts:[…]"). */
async function pidsInUtsNamespace(utsNs: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ns = await readlink(`/proc/${entry}/ns/uts`).catch(() => undefined);
    if (ns === utsNs) pids.push(Number(entry));
  }
  return pids;
}

async function libvirtdUtsNamespace(host: LibvirtHost): Promise<string> {
  const pid = (await readFile(`${host.stateDir}/run/libvirtd.pid`, 'utf8')).trim();
  return readlink(`/proc/${pid}/ns/uts`);
}

describe('libvirt host harness', () => {
  let a: LibvirtHost;
  let b: LibvirtHost;

  beforeAll(async () => {
    [a, b] = await Promise.all([startLibvirtHost(), startLibvirtHost()]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  }, 60_000);

  it('runs two hosts side by side, each with its own hostname, host UUID and socket', async () => {
    expect((await virsh(a.uri, 'hostname')).trim()).toBe(a.name);
    expect((await virsh(b.uri, 'hostname')).trim()).toBe(b.name);
    expect(a.hostUuid).not.toBe(b.hostUuid);
    expect(await virsh(a.unixUri, 'capabilities')).toContain(`<uuid>${a.hostUuid}</uuid>`);
    expect(await virsh(b.uri, 'capabilities')).toContain(`<uuid>${b.hostUuid}</uuid>`);
    expect(await libvirtdUtsNamespace(a)).not.toBe(await libvirtdUtsNamespace(b));
  });

  it('starting a running host again returns the same host, also when two starts race', async () => {
    const again = await Promise.all([
      startLibvirtHost({ name: a.name, tcpPort: a.tcpPort }),
      startLibvirtHost({ name: a.name, tcpPort: a.tcpPort }),
    ]);
    for (const host of again) {
      expect(host.uri).toBe(a.uri);
      expect(host.hostUuid).toBe(a.hostUuid);
    }
    expect((await virsh(a.uri, 'hostname')).trim()).toBe(a.name);
  });

  it('refuses to start a running host on another port', async () => {
    const other = await startLibvirtHost({ name: a.name, tcpPort: b.tcpPort + 5 }).catch(
      (err: unknown) => err,
    );
    expect(isLibvirtHostError(other)).toBe(true);
  });

  it('runs a process on a host: its hostname, its libvirtd as qemu:///system', async () => {
    const child = a.spawn('sh', ['-c', 'hostname; virsh -q -c qemu:///system capabilities']);
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(out.split('\n')[0]).toBe(a.name);
    expect(out).toContain(`<uuid>${a.hostUuid}</uuid>`);
  });

  it('keeps a diskless guest running and leaves no process behind when stopped', async () => {
    const host = await startLibvirtHost();
    const uts = await libvirtdUtsNamespace(host);
    const name = `guest-${host.name}`;
    const xmlPath = `${host.stateDir}/${name}.xml`;
    await writeFile(xmlPath, guestXml({ name, uuid: randomUUID() }));
    await virsh(host.uri, 'define', xmlPath);
    await virsh(host.uri, 'start', name);
    expect((await virshDominfo(host.uri, name)).State).toBe('running');
    expect(await virshListAll(host.uri)).toEqual([name]);
    const onHost = host.spawn('sleep', ['600']);
    const onHostClosed = new Promise<NodeJS.Signals | null>((resolve) =>
      onHost.on('close', (_code, signal) => resolve(signal)),
    );
    // libvirtd, virtlogd, QEMU and the process started on the host
    await waitFor(async () => ((await pidsInUtsNamespace(uts)).length >= 4 ? true : undefined), {
      what: 'four processes on the host',
    });

    await host.stop();
    expect(await pidsInUtsNamespace(uts)).toEqual([]);
    expect(await onHostClosed).toBe('SIGTERM');
  }, 120_000);
});
