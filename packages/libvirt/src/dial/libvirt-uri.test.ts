import { describe, expect, it } from 'vitest';
import { isInvalidUri } from '../errors.ts';
import { parseLibvirtUri, type UnixUri } from './libvirt-uri.ts';

/** Parses a URI that must be a unix one. */
function unix(uri: string): UnixUri {
  const u = parseLibvirtUri(uri);
  if (u.transport !== 'unix') throw new Error(`${uri} parsed as ${u.transport}`);
  return u;
}

describe('libvirt URIs', () => {
  it('qemu:///system is the system unix socket (libvirtd, or virtqemud on a modular host)', () => {
    const u = unix('qemu:///system');
    expect(u).toMatchObject({ driver: 'qemu', transport: 'unix', name: 'qemu:///system' });
    expect(['/var/run/libvirt/libvirt-sock', '/var/run/libvirt/virtqemud-sock']).toContain(u.socketPath);
  });

  it('mode= picks the monolithic or the modular daemon socket, as libvirt does', () => {
    expect(unix('qemu:///system?mode=direct').socketPath).toBe('/var/run/libvirt/virtqemud-sock');
    expect(unix('qemu:///system?mode=legacy').socketPath).toBe('/var/run/libvirt/libvirt-sock');
    expect(parseLibvirtUri('qemu:///system?mode=direct').name).toBe('qemu:///system');
  });

  it('takes socket= from the query and strips it from the opened name', () => {
    const u = parseLibvirtUri('qemu+unix:///system?socket=/tmp/x/libvirt-sock');
    expect(u).toMatchObject({ transport: 'unix', socketPath: '/tmp/x/libvirt-sock', name: 'qemu:///system' });
    expect(parseLibvirtUri('test+unix:///default?socket=/s').name).toBe('test:///default');
  });

  it('tcp and tls take host and port, with libvirt default ports', () => {
    expect(parseLibvirtUri('qemu+tcp://127.0.0.1:16600/system')).toMatchObject({
      transport: 'tcp',
      host: '127.0.0.1',
      port: 16600,
      name: 'qemu:///system',
    });
    expect(parseLibvirtUri('test+tcp://h/default')).toMatchObject({ port: 16509, name: 'test:///default' });
    expect(parseLibvirtUri('qemu+tls://h.example/system')).toMatchObject({ transport: 'tls', port: 16514 });
    // No transport but a host means TLS, as in libvirt: on TLS's port.
    expect(parseLibvirtUri('qemu://h.example/system')).toMatchObject({
      transport: 'tls',
      host: 'h.example',
      port: 16514,
      name: 'qemu:///system',
    });
    expect(parseLibvirtUri('qemu://h.example:1234/system')).toMatchObject({ transport: 'tls', port: 1234 });
    expect(parseLibvirtUri('qemu+tcp://[::1]:1/system')).toMatchObject({ host: '::1', port: 1 });
  });

  it('tls takes its certificate folder and no_verify from the query', () => {
    expect(parseLibvirtUri('qemu+tls://h/system?pkipath=/p&no_verify=1')).toMatchObject({
      pkiPath: '/p',
      noVerify: true,
      name: 'qemu:///system',
    });
    expect(parseLibvirtUri('qemu+tls://h/system')).toMatchObject({ pkiPath: null, noVerify: false });
    expect(parseLibvirtUri('qemu+tls://h/system?no_verify=0')).toMatchObject({ noVerify: false });
  });

  it('passes unknown query parameters on to the daemon, and honours name=', () => {
    expect(parseLibvirtUri('qemu+tcp://h/system?no_verify=1&foo=bar').name).toBe('qemu:///system?foo=bar');
    expect(parseLibvirtUri('qemu+tcp://h/?name=qemu:///session').name).toBe('qemu:///session');
  });

  it('rejects what is not a libvirt URI', () => {
    for (const bad of ['not a uri', 'qemu+ssh://h/system', 'qemu+tcp:///system', 'a+b+c:///x']) {
      let err: unknown = null;
      try {
        parseLibvirtUri(bad);
      } catch (e) {
        err = e;
      }
      expect(isInvalidUri(err)).toBe(true);
    }
  });
});
