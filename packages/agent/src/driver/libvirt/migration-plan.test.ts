import {
  VIR_MIGRATE_AUTO_CONVERGE,
  VIR_MIGRATE_COMPRESSED,
  VIR_MIGRATE_LIVE,
  VIR_MIGRATE_NON_SHARED_DISK,
  VIR_MIGRATE_NON_SHARED_INC,
  VIR_MIGRATE_PEER2PEER,
  VIR_MIGRATE_PERSIST_DEST,
  VIR_MIGRATE_POSTCOPY,
  VIR_MIGRATE_UNDEFINE_SOURCE,
  VIR_MIGRATE_UNSAFE,
} from '@cockpit/libvirt';
import { CopyStorage, type MigrationOptions } from '@cockpit/proto';
import { describe, expect, it } from 'vitest';
import type { DiskSpec } from './domain-disks.ts';
import { inSharedStorage, planMigration } from './migration-plan.ts';

const options = (o: Partial<MigrationOptions> = {}): MigrationOptions => ({
  live: false,
  persistent: false,
  undefineSource: false,
  copyStorage: CopyStorage.COPY_STORAGE_NONE,
  bandwidthMibps: 0,
  maxDowntimeMs: 0,
  autoConverge: false,
  compression: false,
  allowPostCopy: false,
  completionTimeoutS: 0,
  ...o,
});

const disk = (target: string, path: string, o: Partial<DiskSpec> = {}): DiskSpec => ({
  target,
  path,
  format: 'qcow2',
  readOnly: false,
  shareable: false,
  ...o,
});

describe('planMigration', () => {
  it('always peer to peer; each option its flag; bandwidth and migrate URI as parameters', () => {
    expect(planMigration(options(), '', [], [])).toEqual({
      flags: VIR_MIGRATE_PEER2PEER,
      params: {},
      copied: [],
      unsafe: false,
    });
    const all = planMigration(
      options({
        live: true,
        persistent: true,
        undefineSource: true,
        autoConverge: true,
        compression: true,
        allowPostCopy: true,
        bandwidthMibps: 8,
      }),
      'tcp://10.0.0.2:49152',
      [],
      [],
    );
    expect(all.flags).toBe(
      VIR_MIGRATE_PEER2PEER |
        VIR_MIGRATE_LIVE |
        VIR_MIGRATE_PERSIST_DEST |
        VIR_MIGRATE_UNDEFINE_SOURCE |
        VIR_MIGRATE_AUTO_CONVERGE |
        VIR_MIGRATE_COMPRESSED |
        VIR_MIGRATE_POSTCOPY,
    );
    expect(all.params).toEqual({ uri: 'tcp://10.0.0.2:49152', bandwidthMiBs: 8 });
  });

  it('copies writable disks that are neither shareable nor on declared shared storage', () => {
    const disks = [
      disk('vda', '/var/lib/libvirt/images/a.qcow2'),
      disk('vdb', '/srv/shared/b.qcow2'),
      disk('vdc', '/var/lib/libvirt/images/c.raw', { shareable: true }),
      disk('hdc', '/isos/x.iso', { readOnly: true }),
    ];
    const plan = planMigration(options({ copyStorage: CopyStorage.COPY_STORAGE_ALL }), '', disks, [
      '/srv/shared',
    ]);
    expect(plan.copied).toEqual(['vda']);
    expect(plan.params.migrateDisks).toEqual(['vda']);
    expect(plan.flags & VIR_MIGRATE_NON_SHARED_DISK).toBeTruthy();
    // vdc (shareable, local) stays in place outside a declared folder: libvirt's own check decides.
    expect(plan.unsafe).toBe(false);
    const inc = planMigration(options({ copyStorage: CopyStorage.COPY_STORAGE_INC }), '', disks.slice(0, 2), [
      '/srv/shared',
    ]);
    expect(inc.flags & VIR_MIGRATE_NON_SHARED_INC).toBeTruthy();
    expect(inc.flags & VIR_MIGRATE_NON_SHARED_DISK).toBe(0);
    // vdb stays in place, in a declared folder: UNSAFE tells libvirt it is shared.
    expect(inc.unsafe).toBe(true);
    expect(inc.flags & VIR_MIGRATE_UNSAFE).toBeTruthy();
  });

  it('sets no storage flag when nothing is left to copy', () => {
    const plan = planMigration(
      options({ copyStorage: CopyStorage.COPY_STORAGE_ALL }),
      '',
      [disk('hdc', '/isos/x.iso', { readOnly: true })],
      [],
    );
    expect(plan.flags).toBe(VIR_MIGRATE_PEER2PEER);
    expect(plan.params.migrateDisks).toBeUndefined();
  });

  it('UNSAFE only when every writable disk left in place is on declared shared storage', () => {
    const shared = ['/srv/shared/'];
    const none = options({ copyStorage: CopyStorage.COPY_STORAGE_NONE });
    expect(planMigration(none, '', [disk('vda', '/srv/shared/a.qcow2')], shared).unsafe).toBe(true);
    expect(
      planMigration(none, '', [disk('vda', '/srv/shared/a.qcow2'), disk('vdb', '/var/lib/b.qcow2')], shared)
        .unsafe,
    ).toBe(false);
    expect(planMigration(none, '', [disk('vda', '/var/lib/b.qcow2')], shared).unsafe).toBe(false);
    // Read-only and diskless guests need no UNSAFE: libvirt finds them safe.
    expect(planMigration(none, '', [disk('hdc', '/srv/x.iso', { readOnly: true })], shared).unsafe).toBe(
      false,
    );
    expect(planMigration(none, '', [], shared).unsafe).toBe(false);
  });

  it('a folder contains what lies below it, not a sibling with the same prefix', () => {
    expect(inSharedStorage('/srv/shared/a.qcow2', ['/srv/shared'])).toBe(true);
    expect(inSharedStorage('/srv/shared/sub/a.qcow2', ['/srv/shared/'])).toBe(true);
    expect(inSharedStorage('/srv/shared-not/a.qcow2', ['/srv/shared'])).toBe(false);
    expect(inSharedStorage('/srv/shared', ['/srv/shared'])).toBe(false);
  });
});
