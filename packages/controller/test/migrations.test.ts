import { CommandStatus, CopyStorage, VM_FIELDS, VmRemovalReason, VmSample, VmState } from '@cockpit/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CANCEL_RETRY_MS,
  INTERRUPTED_GRACE_MS,
  MAX_CANCELS,
  MIGRATION_COMMAND_DEADLINE_MS,
} from '../src/migrations/migration-steps.ts';
import type { VmView } from '../src/vms/vm-schema.ts';
import { adminToken, eventually, targetOf } from './support/agent-test-helpers.ts';
import {
  migrationUntil,
  performStarts,
  prepareOn,
  progress,
  type ScriptedHost,
  twoHostsWithVm,
} from './support/migration-test-helpers.ts';
import { RealTimeClock } from './support/real-time-clock.ts';
import { ScriptedAgent, vm } from './support/scripted-agent.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

// Live migration driven through REST, coordinated over real gRPC with scripted agents on both hosts:
// the destination prepares, the source performs, progress streams back, and the VM changes host in
// the transaction that completes the migration, never shown on two hosts.
describe('live migration through the coordinator', () => {
  let t: TestApp;
  let admin: string;
  let operator: string;
  const agents: ScriptedHost[] = [];

  beforeAll(async () => {
    t = await createTestApp({ clock: new RealTimeClock() });
    admin = await adminToken(t);
    operator = (await t.userWithRole('operator')).tokens.token;
  });
  afterAll(async () => {
    for (const a of agents) a.agent.close();
    await t?.close();
  });

  async function setUp(name: string) {
    const hosts = await twoHostsWithVm(t, admin, name);
    agents.push(hosts.source, hosts.destination);
    return hosts;
  }
  const migrate = (vmId: string, body: Record<string, unknown>) =>
    t.request('POST', `/api/v1/vms/${vmId}/migrate`, { token: operator, body });
  const vmRow = async (vmId: string) =>
    (await t.request<VmView>('GET', `/api/v1/vms/${vmId}`, { token: operator })).body;
  /** Migrates `vmId` and waits until it copies: the destination prepared, the source's perform running with progress. */
  async function copying(source: ScriptedHost, destination: ScriptedHost, vmId: string) {
    const id = (await migrate(vmId, { destination_host_id: destination.hostId })).body.migration_id as string;
    await prepareOn(destination);
    const perform = await performStarts(source);
    await migrationUntil(
      t,
      operator,
      id,
      'migrating',
      (m) => m.status === 'migrating' && m.progress !== null,
    );
    return { id, perform };
  }
  /** Waits until the controller recorded a command's outcome. */
  const commandEnds = (commandId: string, status: string) =>
    eventually(
      `command ${commandId} recorded as ${status}`,
      async () =>
        (await t.sql<{ status: string }[]>`select status from commands where id = ${commandId}`)[0]?.status,
      (recorded) => recorded === status,
    );
  /** The journals say the VM moved: running on the destination, migrated away from the source; completed. */
  async function journalsSayMoved(
    source: ScriptedHost,
    destination: ScriptedHost,
    vmId: string,
    vmName: string,
    id: string,
  ) {
    await destination.agent.batch([{ $case: 'vmUpdated', value: vm(vmId, vmName) }]);
    await destination.agent.next('ack');
    await source.agent.batch([
      {
        $case: 'vmRemoved',
        value: { id: vmId, name: vmName, reason: VmRemovalReason.VM_REMOVAL_REASON_MIGRATED },
      },
    ]);
    await source.agent.next('ack');
    await migrationUntil(t, operator, id, 'completed', (m) => m.status === 'completed');
  }
  /** A migration whose perform the source's agent answered `interrupted` (it restarted), nothing reported yet. */
  async function interruptedUnreported(name: string) {
    const hosts = await setUp(name);
    const id = (await migrate(hosts.vmId, { destination_host_id: hosts.destination.hostId })).body
      .migration_id as string;
    await prepareOn(hosts.destination);
    const perform = await performStarts(hosts.source);
    await hosts.source.agent.commandUpdate({
      commandId: perform.commandId,
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: { code: 'interrupted', message: 'the agent restarted while this command ran' },
    });
    await commandEnds(perform.commandId, 'failed');
    return { ...hosts, id };
  }
  /** The source reports the VM with one qcow2 disk; a copy_storage all migration of it starts. */
  async function migrateWithDisk(
    source: ScriptedHost,
    destination: ScriptedHost,
    vmId: string,
    vmName: string,
  ) {
    const disk = {
      target: 'vda',
      path: `/var/lib/libvirt/images/${vmName}.qcow2`,
      format: 'qcow2',
      capacityBytes: 64 << 20,
      readOnly: false,
      shareable: false,
    };
    await source.agent.batch([
      { $case: 'vmUpdated', value: vm(vmId, vmName, VmState.VM_STATE_RUNNING, { disks: [disk] }) },
    ]);
    await source.agent.next('ack');
    const res = await migrate(vmId, { destination_host_id: destination.hostId, copy_storage: 'all' });
    return { disk, id: res.body.migration_id as string };
  }
  const foreign = () => t.services.metricIngest.stats.dropped.foreign;
  const cpuAt = (vmId: string, atMs: number, cpuPercent: number) =>
    VmSample.fromPartial({ vmId, atMs, cpuPercent, presentFields: 1 << VM_FIELDS.cpuPercent });
  const samplesOf = (vmId: string) =>
    t.sql<{ at: Date; cpu_percent: number }[]>`
      select at, cpu_percent from metric_vm_raw where vm_id = ${vmId} order by at`;
  const conflicts = async (vmId: string) =>
    (await t.sql<{ host_id: string }[]>`select host_id from vm_conflicts where vm_id = ${vmId}`).length;

  it('migrates a running VM: prepare on the destination, perform on the source, progress, then the VM changes host once', async () => {
    const { source, destination, vmId, vmName } = await setUp('happy');
    const res = await migrate(vmId, {
      destination_host_id: destination.hostId.toUpperCase(),
      live: true,
      persistent: true,
      undefine_source: true,
      copy_storage: 'none',
      bandwidth_mibps: 100,
      max_downtime_ms: 250,
      auto_converge: true,
      completion_timeout_s: 120,
    });
    expect(res.status, res.text).toBe(202);
    expect(Object.keys(res.body).sort()).toEqual(['migration_id', 'status']);
    expect(res.body.status).toBe('initiated');
    const id = res.body.migration_id as string;
    expect(res.headers.get('location')).toBe(`/api/v1/migrations/${id}`);

    const prepare = await prepareOn(destination, 'qemu+tcp://10.0.0.2:16509/system');
    expect(prepare.action).toEqual({
      $case: 'migrationPrepare',
      value: { migrationId: id, vmId, vmName, copyStorage: CopyStorage.COPY_STORAGE_NONE, disks: [] },
    });
    const perform = await performStarts(source);
    expect(perform.action).toEqual({
      $case: 'migrationPerform',
      value: {
        migrationId: id,
        vmId,
        destinationConnectUri: 'qemu+tcp://10.0.0.2:16509/system',
        destinationMigrateUri: '',
        destinationCreatedImages: [],
        options: {
          live: true,
          persistent: true,
          undefineSource: true,
          copyStorage: CopyStorage.COPY_STORAGE_NONE,
          bandwidthMibps: 100,
          maxDowntimeMs: 250,
          autoConverge: true,
          compression: false,
          allowPostCopy: false,
          completionTimeoutS: 120,
        },
      },
    });
    const running = await migrationUntil(t, operator, id, 'progress stored', (m) => m.progress !== null);
    expect(running).toMatchObject({
      status: 'migrating',
      vm_id: vmId,
      source_host_id: source.hostId,
      destination_host_id: destination.hostId,
      progress: {
        data_processed: 16 << 20,
        data_remaining: 48 << 20,
        data_total: 64 << 20,
        elapsed_ms: 1000,
      },
      error: null,
      finished_at: null,
    });
    expect((await t.request('GET', `/api/v1/operations/${id}`, { token: operator })).body).toMatchObject({
      kind: 'vm.migrate',
      status: 'running',
    });

    // The incoming VM appears on the destination (paused) and leaves the source: neither is applied yet,
    // and neither is a conflict.
    await destination.agent.batch([
      { $case: 'vmUpdated', value: vm(vmId, vmName, VmState.VM_STATE_PAUSED, { stateReason: 'migration' }) },
    ]);
    await destination.agent.next('ack');
    await source.agent.batch([
      {
        $case: 'vmRemoved',
        value: { id: vmId, name: vmName, reason: VmRemovalReason.VM_REMOVAL_REASON_MIGRATED },
      },
    ]);
    await source.agent.next('ack');
    expect(await vmRow(vmId)).toMatchObject({ host_id: source.hostId, state: 'running' });
    // Meanwhile the VM is the source's: its samples are kept, the destination's dropped.
    const foreignBefore = foreign();
    const sampledAt = Date.now() - (Date.now() % 1_000) - 10_000;
    await source.agent.metrics({ vms: [cpuAt(vmId, sampledAt, 1)] });
    await destination.agent.metrics({ vms: [cpuAt(vmId, sampledAt + 1_000, 2)] });
    await eventually(
      'the destination’s early sample dropped',
      async () => foreign(),
      (n) => n === foreignBefore + 1,
    );
    await eventually(
      'the source’s sample stored',
      () => samplesOf(vmId),
      (rows) => rows.length === 1,
    );
    expect(await conflicts(vmId)).toBe(0);

    await source.agent.commandUpdate({
      commandId: perform.commandId,
      status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
      detail: { $case: 'migrationProgress', value: progress(64 << 20, { downtimeMs: 42, elapsedMs: 3000 }) },
    });
    // Done only once the destination reports the VM running (it still reports it paused, arriving).
    await destination.agent.heartbeat();
    await destination.agent.next('heartbeat', 3000);
    await eventually(
      'the perform command finished',
      async () =>
        (await t.sql<{ status: string }[]>`select status from commands where id = ${perform.commandId}`)[0]
          ?.status,
      (s) => s === 'succeeded',
    );
    await t.services.coordinator.settle(id);
    expect((await t.request('GET', `/api/v1/migrations/${id}`, { token: operator })).body.status).toBe(
      'migrating',
    );
    expect(await vmRow(vmId)).toMatchObject({ host_id: source.hostId });
    await destination.agent.batch([{ $case: 'vmUpdated', value: vm(vmId, vmName) }]);
    await destination.agent.next('ack');
    const done = await migrationUntil(t, operator, id, 'completed', (m) => m.status === 'completed');
    expect(done).toMatchObject({ progress: { downtime_ms: 42, data_remaining: 0 }, error: null });
    expect(done.finished_at).not.toBeNull();
    expect(await vmRow(vmId)).toMatchObject({ host_id: destination.hostId, state: 'running' });
    // Metric samples follow the move: the destination's continue the VM's series, and the source's
    // later ones are dropped (an agent feeds only the VMs held on its host).
    await source.agent.metrics({ vms: [cpuAt(vmId, sampledAt + 2_000, 3)] });
    await destination.agent.metrics({ vms: [cpuAt(vmId, sampledAt + 3_000, 4)] });
    await eventually(
      'the source’s late sample dropped',
      async () => foreign(),
      (n) => n === foreignBefore + 2,
    );
    expect(
      await eventually(
        'the destination’s sample stored',
        () => samplesOf(vmId),
        (rows) => rows.length === 2,
      ),
    ).toEqual([
      { at: new Date(sampledAt), cpu_percent: 1 },
      { at: new Date(sampledAt + 3_000), cpu_percent: 4 },
    ]);
    expect(await conflicts(vmId)).toBe(0);
    const op = await t.request('GET', `/api/v1/operations/${id}?wait=5`, { token: operator });
    expect(op.body).toMatchObject({ status: 'succeeded' });
    // Prometheus sees it among the completed migrations (other tests of this file finish theirs later).
    const exposition = await (await fetch(`${t.url}/metrics`)).text();
    expect(
      Number(/^cockpit_migrations\{status="completed"\} (\d+)$/m.exec(exposition)?.[1]),
    ).toBeGreaterThanOrEqual(1);

    // The VM's change log never shows it anywhere but one host at a time.
    const changes = await t.sql<{ data: { host_id: string } | null }[]>`
      select data from changes where kind = 'vm' and entity_id = ${vmId} order by id`;
    expect(changes.map((c) => c.data?.host_id)).toEqual([source.hostId, destination.hostId]);

    // Later reports of the destination update it there; the source's late removal changes nothing.
    await source.agent.batch([
      {
        $case: 'vmRemoved',
        value: { id: vmId, name: vmName, reason: VmRemovalReason.VM_REMOVAL_REASON_MIGRATED },
      },
    ]);
    await source.agent.next('ack');
    expect(await vmRow(vmId)).toMatchObject({ host_id: destination.hostId });
    const audit = await t.request('GET', '/api/v1/audit?limit=50', { token: admin });
    expect(
      audit.body.entries.find((e: { action: string }) => e.action === 'POST /api/v1/vms/:id/migrate'),
    ).toMatchObject({ target: `vm:${vmId}`, result: 'success', status: 202 });
  }, 30_000);

  it('with copy_storage all, tells the destination which disk images to ready, as the source reported them, the source which ones it created, and the destination to remove them when the migration fails', async () => {
    const { source, destination, vmId, vmName } = await setUp('copy');
    const { disk, id } = await migrateWithDisk(source, destination, vmId, vmName);
    const prepare = await prepareOn(destination, undefined, [disk.path]);
    expect(prepare.action).toEqual({
      $case: 'migrationPrepare',
      value: { migrationId: id, vmId, vmName, copyStorage: CopyStorage.COPY_STORAGE_ALL, disks: [disk] },
    });
    const perform = await performStarts(source);
    expect(perform.action?.$case === 'migrationPerform' && perform.action.value.options?.copyStorage).toBe(
      CopyStorage.COPY_STORAGE_ALL,
    );
    // The source removes its copies of these (and only these) once the migration completed.
    expect(
      perform.action?.$case === 'migrationPerform' && perform.action.value.destinationCreatedImages,
    ).toEqual([disk.path]);
    await source.agent.commandUpdate({
      commandId: perform.commandId,
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: { code: 'OPERATION_FAILED', message: 'the storage copy failed' },
    });
    await migrationUntil(t, operator, id, 'failed', (m) => m.status === 'failed');
    // The destination's agent finds what its prepare created in its own record of that prepare.
    const abandon = await destination.agent.next('command');
    expect(abandon.action).toEqual({
      $case: 'migrationAbandon',
      value: { migrationId: id, vmId, prepareCommandId: prepare.commandId },
    });
  }, 30_000);

  it('keeps the abandon of a whole-disk copy for a destination that is away longer than a step’s deadline, and delivers it when its agent is back', async () => {
    const { source, destination, vmId, vmName } = await setUp('copy-away');
    const { id } = await migrateWithDisk(source, destination, vmId, vmName);
    const prepare = await prepareOn(destination);
    const perform = await performStarts(source);
    destination.agent.close();
    await source.agent.commandUpdate({
      commandId: perform.commandId,
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: { code: 'OPERATION_FAILED', message: 'the destination went away' },
    });
    await migrationUntil(t, operator, id, 'failed', (m) => m.status === 'failed');
    // Away for a while (a reboot, maintenance): well past what a migration step may wait for delivery.
    t.clock.advance(10 * MIGRATION_COMMAND_DEADLINE_MS);
    await t.services.commands.expireOverdue();
    const { agent } = await ScriptedAgent.connect(targetOf(t), destination.credential);
    agents.push({ ...destination, agent });
    const abandon = await agent.next('command');
    expect(abandon.action).toEqual({
      $case: 'migrationAbandon',
      value: { migrationId: id, vmId, prepareCommandId: prepare.commandId },
    });
  }, 30_000);

  it('completes when the destination reported the VM running before the source said it succeeded', async () => {
    const { source, destination, vmId, vmName } = await setUp('early');
    const id = (await migrate(vmId, { destination_host_id: destination.hostId })).body.migration_id;
    await prepareOn(destination);
    const perform = await performStarts(source);
    await destination.agent.batch([{ $case: 'vmUpdated', value: vm(vmId, vmName) }]);
    await destination.agent.next('ack');
    await migrationUntil(t, operator, id, 'progress', (m) => m.progress !== null);
    expect(await vmRow(vmId)).toMatchObject({ host_id: source.hostId });
    await source.agent.commandUpdate({
      commandId: perform.commandId,
      status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
    });
    await migrationUntil(t, operator, id, 'completed', (m) => m.status === 'completed');
    expect(await vmRow(vmId)).toMatchObject({ host_id: destination.hostId, state: 'running' });
  }, 30_000);

  it("fails with libvirt's message and leaves the VM on the source", async () => {
    const { source, destination, vmId, vmName } = await setUp('fails');
    const id = (await migrate(vmId, { destination_host_id: destination.hostId })).body.migration_id;
    await prepareOn(destination);
    const perform = await performStarts(source);
    await destination.agent.batch([
      { $case: 'vmUpdated', value: vm(vmId, vmName, VmState.VM_STATE_PAUSED, { stateReason: 'migration' }) },
    ]);
    await destination.agent.next('ack');
    const message = 'operation failed: migration out job: unexpectedly failed';
    await source.agent.commandUpdate({
      commandId: perform.commandId,
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: { code: 'OPERATION_FAILED', message },
    });
    const failed = await migrationUntil(t, operator, id, 'failed', (m) => m.status === 'failed');
    expect(failed.error).toEqual({ code: 'OPERATION_FAILED', message });
    // Without a storage copy the destination created nothing: nothing to remove.
    expect(
      await t.sql`select id from commands where operation_id = ${id} and kind = 'migrationAbandon'`,
    ).toEqual([]);
    expect(await vmRow(vmId)).toMatchObject({ host_id: source.hostId, state: 'running' });
    const op = await t.request('GET', `/api/v1/operations/${id}`, { token: operator });
    expect(op.body).toMatchObject({ status: 'failed', error: { code: 'OPERATION_FAILED', message } });
    // The destination drops the incoming VM; another migration of the VM may start.
    await destination.agent.batch([
      {
        $case: 'vmRemoved',
        value: { id: vmId, name: vmName, reason: VmRemovalReason.VM_REMOVAL_REASON_MIGRATED },
      },
    ]);
    await destination.agent.next('ack');
    expect(await conflicts(vmId)).toBe(0);
    const again = await migrate(vmId, { destination_host_id: destination.hostId });
    expect(again.status, again.text).toBe(202);
  }, 30_000);

  it('completes when the journals say the VM moved though the perform failed (an error after the switch-over)', async () => {
    const { source, destination, vmId, vmName } = await setUp('late-error');
    const id = (await migrate(vmId, { destination_host_id: destination.hostId })).body.migration_id;
    await prepareOn(destination);
    const perform = await performStarts(source);
    await destination.agent.batch([{ $case: 'vmUpdated', value: vm(vmId, vmName) }]);
    await destination.agent.next('ack');
    await source.agent.batch([
      {
        $case: 'vmRemoved',
        value: { id: vmId, name: vmName, reason: VmRemovalReason.VM_REMOVAL_REASON_MIGRATED },
      },
    ]);
    await source.agent.next('ack');
    await source.agent.commandUpdate({
      commandId: perform.commandId,
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: { code: 'OPERATION_FAILED', message: 'operation failed: migration finish phase failed' },
    });
    await migrationUntil(t, operator, id, 'completed', (m) => m.status === 'completed');
    expect(await vmRow(vmId)).toMatchObject({ host_id: destination.hostId, state: 'running' });
    expect(await conflicts(vmId)).toBe(0);
  }, 30_000);

  it('keeps the destination’s report when the source host is deleted mid-migration: failed, the VM on the destination', async () => {
    const { source, destination, vmId, vmName } = await setUp('source-deleted');
    const id = (await migrate(vmId, { destination_host_id: destination.hostId })).body.migration_id;
    await prepareOn(destination);
    await performStarts(source);
    await destination.agent.batch([{ $case: 'vmUpdated', value: vm(vmId, vmName) }]);
    await destination.agent.next('ack');
    const deleted = await t.request('DELETE', `/api/v1/hosts/${source.hostId}`, { token: admin });
    expect(deleted.status, deleted.text).toBe(204);
    await t.services.coordinator.settle(id);
    const failed = await migrationUntil(t, operator, id, 'failed', (m) => m.status === 'failed');
    expect(failed.error?.code).toBe('host_deleted');
    expect(await vmRow(vmId)).toMatchObject({ id: vmId, host_id: destination.hostId, state: 'running' });
  }, 30_000);

  it('fails when the destination cannot prepare, before the source is asked', async () => {
    const { source, destination, vmId } = await setUp('noprep');
    const id = (await migrate(vmId, { destination_host_id: destination.hostId })).body.migration_id;
    const prepare = await destination.agent.next('command');
    await destination.agent.commandUpdate({
      commandId: prepare.commandId,
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: { code: 'vm_name_taken', message: 'another domain on this host is named noprep-vm' },
    });
    const failed = await migrationUntil(t, operator, id, 'failed', (m) => m.status === 'failed');
    expect(failed.error?.code).toBe('vm_name_taken');
    expect(source.agent.commands()).toEqual([]);
    expect(await vmRow(vmId)).toMatchObject({ host_id: source.hostId });
  }, 30_000);

  it('cancels a running migration: the source aborts the job, the VM stays, the record says cancelled', async () => {
    const { source, destination, vmId } = await setUp('cancel');
    const { id, perform } = await copying(source, destination, vmId);
    const res = await t.request('POST', `/api/v1/migrations/${id}/cancel`, { token: operator });
    expect(res.status, res.text).toBe(202);
    expect(res.body.cancel_requested_at).not.toBeNull();
    const cancel = await source.agent.next('command');
    expect(cancel.action).toEqual({ $case: 'migrationCancel', value: { migrationId: id, vmId } });
    await source.agent.commandUpdate({
      commandId: cancel.commandId,
      status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
    });
    await source.agent.commandUpdate({
      commandId: perform.commandId,
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: {
        code: 'OPERATION_ABORTED',
        message: 'operation aborted: migration out job: canceled by client',
      },
    });
    const done = await migrationUntil(t, operator, id, 'cancelled', (m) => m.status === 'cancelled');
    expect(done.error?.code).toBe('OPERATION_ABORTED');
    expect(await vmRow(vmId)).toMatchObject({ host_id: source.hostId, state: 'running' });
    const late = await t.request('POST', `/api/v1/migrations/${id}/cancel`, { token: operator });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('migration_finished');
  }, 30_000);

  it('cancels while the destination prepares: the source is never asked', async () => {
    const { source, destination, vmId } = await setUp('cancelprep');
    const id = (await migrate(vmId, { destination_host_id: destination.hostId })).body.migration_id;
    const prepare = await destination.agent.next('command');
    const res = await t.request('POST', `/api/v1/migrations/${id}/cancel`, { token: operator });
    expect(res.status).toBe(202);
    await migrationUntil(t, operator, id, 'cancelled', (m) => m.status === 'cancelled');
    // A late answer of the destination changes nothing.
    await destination.agent.commandUpdate({
      commandId: prepare.commandId,
      status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
      detail: {
        $case: 'migrationPrepared',
        value: { connectUri: 'qemu+tcp://x/system', migrateUri: '', createdImages: [] },
      },
    });
    await destination.agent.heartbeat();
    await destination.agent.next('heartbeat', 3000);
    expect(source.agent.commands()).toEqual([]);
    expect((await t.request('GET', `/api/v1/migrations/${id}`, { token: operator })).body.status).toBe(
      'cancelled',
    );
  }, 30_000);

  it('cancels while the destination prepares a whole-disk copy: waits for its answer, then has the images it created removed', async () => {
    const { destination, vmId, vmName, source } = await setUp('cancelcopy');
    const { disk, id } = await migrateWithDisk(source, destination, vmId, vmName);
    const prepare = await destination.agent.next('command');
    expect((await t.request('POST', `/api/v1/migrations/${id}/cancel`, { token: operator })).status).toBe(
      202,
    );
    await destination.agent.commandUpdate({
      commandId: prepare.commandId,
      status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
      detail: {
        $case: 'migrationPrepared',
        value: { connectUri: 'qemu+tcp://x/system', migrateUri: '', createdImages: [disk.path] },
      },
    });
    await migrationUntil(t, operator, id, 'cancelled', (m) => m.status === 'cancelled');
    const abandon = await destination.agent.next('command');
    expect(abandon.action).toEqual({
      $case: 'migrationAbandon',
      value: { migrationId: id, vmId, prepareCommandId: prepare.commandId },
    });
    expect(source.agent.commands()).toEqual([]);
  }, 30_000);

  it('cancels before the perform reached the source: the perform is withdrawn and never delivered', async () => {
    const { source, destination, vmId } = await setUp('cancelpend');
    const id = (await migrate(vmId, { destination_host_id: destination.hostId })).body.migration_id;
    const prepare = await destination.agent.next('command');
    source.agent.close();
    await eventually(
      'the source disconnected',
      async () => (await t.request('GET', `/api/v1/hosts/${source.hostId}`, { token: operator })).body.status,
      (status) => status === 'disconnected',
    );
    await destination.agent.commandUpdate({
      commandId: prepare.commandId,
      status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
      detail: {
        $case: 'migrationPrepared',
        value: { connectUri: 'qemu+tcp://dst:16509/system', migrateUri: '', createdImages: [] },
      },
    });
    const migrating = await migrationUntil(t, operator, id, 'migrating', (m) => m.status === 'migrating');
    expect(migrating.cancel_requested_at).toBeNull();
    expect((await t.request('POST', `/api/v1/migrations/${id}/cancel`, { token: operator })).status).toBe(
      202,
    );
    const done = await migrationUntil(t, operator, id, 'cancelled', (m) => m.status === 'cancelled');
    expect(done.error).toEqual({ code: 'cancelled', message: 'cancelled before the source started it' });
    const commands = await t.sql<{ kind: string; status: string }[]>`
      select kind, status from commands where operation_id = ${id} order by id`;
    expect(commands).toEqual([
      { kind: 'migrationPrepare', status: 'succeeded' },
      { kind: 'migrationPerform', status: 'cancelled' },
    ]);
    // Back: the source is sent what is unfinished first, then the next command; never the perform.
    const { agent } = await ScriptedAgent.connect(targetOf(t), source.credential);
    agents.push({ ...source, agent });
    expect(
      (await t.request('POST', `/api/v1/vms/${vmId}/action`, { token: operator, body: { action: 'pause' } }))
        .status,
    ).toBe(202);
    const next = await agent.next('command');
    expect(next.action?.$case).toBe('power');
    expect(agent.commands().map((c) => c.action?.$case)).toEqual(['power']);
  }, 30_000);

  it('sends a cancel as soon as the perform was delivered, before the source reports it running', async () => {
    const { source, destination, vmId } = await setUp('cancelsent');
    const id = (await migrate(vmId, { destination_host_id: destination.hostId })).body.migration_id;
    await prepareOn(destination);
    const perform = await source.agent.next('command');
    expect(perform.action?.$case).toBe('migrationPerform');
    await migrationUntil(t, operator, id, 'migrating', (m) => m.status === 'migrating');
    expect((await t.request('POST', `/api/v1/migrations/${id}/cancel`, { token: operator })).status).toBe(
      202,
    );
    const cancel = await source.agent.next('command');
    expect(cancel.action).toEqual({ $case: 'migrationCancel', value: { migrationId: id, vmId } });
  }, 30_000);

  it('sends a failed cancel again while the job runs, paced and bounded, and stops once the source says no job runs', async () => {
    const { source, destination, vmId } = await setUp('cancelretry');
    const { id, perform } = await copying(source, destination, vmId);
    expect((await t.request('POST', `/api/v1/migrations/${id}/cancel`, { token: operator })).status).toBe(
      202,
    );
    const refuse = async (code: string) => {
      const cancel = await source.agent.next('command');
      expect(cancel.action?.$case).toBe('migrationCancel');
      await source.agent.commandUpdate({
        commandId: cancel.commandId,
        status: CommandStatus.COMMAND_STATUS_FAILED,
        error: { code, message: 'Requested operation is not valid: no job is active on the domain' },
      });
      await commandEnds(cancel.commandId, 'failed');
    };
    const cancelsSent = async () =>
      (
        await t.sql<{ n: number }[]>`
          select count(*)::int as n from commands where operation_id = ${id} and kind = 'migrationCancel'`
      )[0]?.n;
    await refuse('OPERATION_INVALID');
    // Not again at once …
    await t.services.coordinator.settle(id);
    expect(await cancelsSent()).toBe(1);
    // … but once the retry is due.
    t.clock.advance(CANCEL_RETRY_MS);
    await t.services.coordinator.settle(id);
    expect(await cancelsSent()).toBe(2);
    await refuse('OPERATION_INVALID');
    t.clock.advance(CANCEL_RETRY_MS);
    await t.services.coordinator.settle(id);
    expect(await cancelsSent()).toBe(MAX_CANCELS);
    await refuse('OPERATION_INVALID');
    t.clock.advance(CANCEL_RETRY_MS);
    await t.services.coordinator.settle(id);
    expect(await cancelsSent()).toBe(MAX_CANCELS);
    // The job ran to its end: the migration completes although a cancel was asked for.
    await destination.agent.batch([{ $case: 'vmUpdated', value: vm(vmId, 'cancelretry-vm') }]);
    await destination.agent.next('ack');
    await source.agent.commandUpdate({
      commandId: perform.commandId,
      status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
    });
    await migrationUntil(t, operator, id, 'completed', (m) => m.status === 'completed');
  }, 30_000);

  it('does not send a cancel again when the source answered that no migration job runs', async () => {
    const { source, destination, vmId } = await setUp('cancelnojob');
    const { id } = await copying(source, destination, vmId);
    expect((await t.request('POST', `/api/v1/migrations/${id}/cancel`, { token: operator })).status).toBe(
      202,
    );
    const cancel = await source.agent.next('command');
    await source.agent.commandUpdate({
      commandId: cancel.commandId,
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: {
        code: 'no_migration_running',
        message: 'the migration completed before the cancel took effect',
      },
    });
    await commandEnds(cancel.commandId, 'failed');
    t.clock.advance(CANCEL_RETRY_MS);
    await t.services.coordinator.settle(id);
    expect(source.agent.commands().filter((c) => c.action?.$case === 'migrationCancel')).toHaveLength(1);
  }, 30_000);

  it('force-completes a migration that allowed post-copy, and refuses one that did not (409)', async () => {
    const { source, destination, vmId, vmName } = await setUp('force');
    const id = (await migrate(vmId, { destination_host_id: destination.hostId, allow_post_copy: true })).body
      .migration_id;
    // Not yet migrating: nothing to force.
    const early = await t.request('POST', `/api/v1/migrations/${id}/force-complete`, { token: operator });
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe('force_complete_not_allowed');
    await prepareOn(destination);
    const perform = await performStarts(source);
    expect(perform.action?.$case === 'migrationPerform' && perform.action.value.options?.allowPostCopy).toBe(
      true,
    );
    await migrationUntil(
      t,
      operator,
      id,
      'migrating',
      (m) => m.status === 'migrating' && m.progress !== null,
    );
    const res = await t.request('POST', `/api/v1/migrations/${id}/force-complete`, { token: operator });
    expect(res.status, res.text).toBe(202);
    const force = await source.agent.next('command');
    expect(force.action).toEqual({ $case: 'migrationForceComplete', value: { migrationId: id, vmId } });
    await source.agent.commandUpdate({
      commandId: force.commandId,
      status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
    });
    await source.agent.commandUpdate({
      commandId: perform.commandId,
      status: CommandStatus.COMMAND_STATUS_RUNNING,
      detail: { $case: 'migrationProgress', value: progress(40 << 20, { postCopy: true }) },
    });
    await migrationUntil(t, operator, id, 'post-copy progress', (m) => m.progress?.post_copy === true);
    await destination.agent.batch([{ $case: 'vmUpdated', value: vm(vmId, vmName) }]);
    await destination.agent.next('ack');
    await source.agent.commandUpdate({
      commandId: perform.commandId,
      status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
    });
    await migrationUntil(t, operator, id, 'completed', (m) => m.status === 'completed');
    expect(await vmRow(vmId)).toMatchObject({ host_id: destination.hostId });

    // Migrating back without allow_post_copy: force-complete is refused.
    const back = (await migrate(vmId, { destination_host_id: source.hostId })).body.migration_id;
    await prepareOn(source);
    await performStarts(destination);
    await migrationUntil(t, operator, back, 'migrating', (m) => m.status === 'migrating');
    const refused = await t.request('POST', `/api/v1/migrations/${back}/force-complete`, { token: operator });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'force_complete_not_allowed' });
    expect(refused.body.error.message).toContain('allow_post_copy');
  }, 30_000);

  describe("when the source's agent restarts mid-migration (the perform answered `interrupted`)", () => {
    const interrupt = async (name: string) => {
      const hosts = await setUp(name);
      const id = (await migrate(hosts.vmId, { destination_host_id: hosts.destination.hostId })).body
        .migration_id as string;
      await prepareOn(hosts.destination);
      const perform = await performStarts(hosts.source);
      await hosts.destination.agent.batch([
        {
          $case: 'vmUpdated',
          value: vm(hosts.vmId, hosts.vmName, VmState.VM_STATE_PAUSED, { stateReason: 'migration' }),
        },
      ]);
      await hosts.destination.agent.next('ack');
      await hosts.source.agent.commandUpdate({
        commandId: perform.commandId,
        status: CommandStatus.COMMAND_STATUS_FAILED,
        error: { code: 'interrupted', message: 'the agent restarted while this command ran' },
      });
      await commandEnds(perform.commandId, 'failed');
      await t.services.coordinator.settle(id);
      // libvirt may still be migrating: not settled by the perform's answer alone.
      expect((await t.request('GET', `/api/v1/migrations/${id}`, { token: operator })).body.status).toBe(
        'migrating',
      );
      return { ...hosts, id };
    };

    it('completes from the journals: running on the destination, gone from the source', async () => {
      const { source, destination, vmId, vmName, id } = await interrupt('intr-ok');
      await destination.agent.batch([{ $case: 'vmUpdated', value: vm(vmId, vmName) }]);
      await destination.agent.next('ack');
      await t.services.coordinator.settle(id);
      expect((await t.request('GET', `/api/v1/migrations/${id}`, { token: operator })).body.status).toBe(
        'migrating',
      );
      await source.agent.batch([
        {
          $case: 'vmRemoved',
          value: { id: vmId, name: vmName, reason: VmRemovalReason.VM_REMOVAL_REASON_MIGRATED },
        },
      ]);
      await source.agent.next('ack');
      await migrationUntil(t, operator, id, 'completed', (m) => m.status === 'completed');
      expect(await vmRow(vmId)).toMatchObject({ host_id: destination.hostId, state: 'running' });
      // No storage copy: nothing for the source to release.
      expect(
        await t.sql`select id from commands where operation_id = ${id} and kind = 'migrationRelease'`,
      ).toEqual([]);
    }, 30_000);

    it('with copy_storage all, completed from the journals: the source is told to release the images it copied away', async () => {
      const { source, destination, vmId, vmName } = await setUp('intr-copy');
      const { disk, id } = await migrateWithDisk(source, destination, vmId, vmName);
      await prepareOn(destination, undefined, [disk.path]);
      const perform = await performStarts(source);
      await source.agent.commandUpdate({
        commandId: perform.commandId,
        status: CommandStatus.COMMAND_STATUS_FAILED,
        error: { code: 'interrupted', message: 'the agent restarted while this command ran' },
      });
      await commandEnds(perform.commandId, 'failed');
      await journalsSayMoved(source, destination, vmId, vmName, id);
      // Which images, the source's agent finds in its own record of that perform.
      const release = await source.agent.next('command');
      expect(release.action).toEqual({
        $case: 'migrationRelease',
        value: { migrationId: id, vmId, performCommandId: perform.commandId },
      });
    }, 30_000);

    it('fails from the journals: the incoming VM left the destination, the source still has it', async () => {
      const { source, destination, vmId, vmName, id } = await interrupt('intr-fail');
      await destination.agent.batch([
        {
          $case: 'vmRemoved',
          value: { id: vmId, name: vmName, reason: VmRemovalReason.VM_REMOVAL_REASON_UNDEFINED },
        },
      ]);
      await destination.agent.next('ack');
      const failed = await migrationUntil(t, operator, id, 'failed', (m) => m.status === 'failed');
      expect(failed.error?.code).toBe('interrupted');
      expect(await vmRow(vmId)).toMatchObject({ host_id: source.hostId, state: 'running' });
    }, 30_000);

    it('a cancel still reaches the source (which acts on libvirt’s job by VM id) and ends it cancelled', async () => {
      const { source, destination, vmId, vmName, id } = await interrupt('intr-cancel');
      expect((await t.request('POST', `/api/v1/migrations/${id}/cancel`, { token: operator })).status).toBe(
        202,
      );
      const cancel = await source.agent.next('command');
      expect(cancel.action).toEqual({ $case: 'migrationCancel', value: { migrationId: id, vmId } });
      await source.agent.commandUpdate({
        commandId: cancel.commandId,
        status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
      });
      // The destination's incoming VM has not been reported gone yet: the record waits for it …
      await t.services.coordinator.settle(id);
      expect((await t.request('GET', `/api/v1/migrations/${id}`, { token: operator })).body.status).toBe(
        'migrating',
      );
      await destination.agent.batch([
        {
          $case: 'vmRemoved',
          value: { id: vmId, name: vmName, reason: VmRemovalReason.VM_REMOVAL_REASON_UNDEFINED },
        },
      ]);
      await destination.agent.next('ack');
      const done = await migrationUntil(t, operator, id, 'cancelled', (m) => m.status === 'cancelled');
      expect(done.error?.code).toBe('interrupted');
      expect(await vmRow(vmId)).toMatchObject({ host_id: source.hostId });
    }, 30_000);
  });

  it('an interrupted migration whose cancel the source answers "migration_completed" (libvirt finished first) waits for the journals, and completes', async () => {
    const { source, destination, vmId, vmName, id } = await interruptedUnreported('intr-late');
    expect((await t.request('POST', `/api/v1/migrations/${id}/cancel`, { token: operator })).status).toBe(
      202,
    );
    const cancel = await source.agent.next('command');
    expect(cancel.action).toEqual({ $case: 'migrationCancel', value: { migrationId: id, vmId } });
    // Neither journal has caught up: the destination has not reported the VM, the source still has it.
    await source.agent.commandUpdate({
      commandId: cancel.commandId,
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: {
        code: 'migration_completed',
        message: 'the migration completed before the cancel took effect',
      },
    });
    await commandEnds(cancel.commandId, 'failed');
    await t.services.coordinator.settle(id);
    expect((await t.request('GET', `/api/v1/migrations/${id}`, { token: operator })).body.status).toBe(
      'migrating',
    );
    // Not asked again, past the grace too: the source said the job is over.
    t.clock.advance(INTERRUPTED_GRACE_MS);
    await t.services.coordinator.settle(id);
    expect(source.agent.commands().map((c) => c.action?.$case)).toEqual([
      'migrationPerform',
      'migrationCancel',
    ]);
    await journalsSayMoved(source, destination, vmId, vmName, id);
    expect(await vmRow(vmId)).toMatchObject({ host_id: destination.hostId, state: 'running' });
  }, 30_000);

  it('settles an interrupted perform nobody reports on: after the grace the source is asked to abort, and its answer ends it failed on the source', async () => {
    // The agent died before libvirt started the job: the destination never sees the VM arrive.
    const { source, vmId, id } = await interruptedUnreported('intr-silent');
    await t.services.coordinator.settle(id);
    expect(source.agent.commands().map((c) => c.action?.$case)).toEqual(['migrationPerform']);
    t.clock.advance(INTERRUPTED_GRACE_MS);
    await t.services.coordinator.settle(id);
    const probe = await source.agent.next('command');
    expect(probe.action).toEqual({ $case: 'migrationCancel', value: { migrationId: id, vmId } });
    await source.agent.commandUpdate({
      commandId: probe.commandId,
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: { code: 'no_migration_running', message: `no migration of VM ${vmId} runs on this host` },
    });
    const failed = await migrationUntil(t, operator, id, 'failed', (m) => m.status === 'failed');
    expect(failed.error?.code).toBe('interrupted');
    expect(failed.error?.message).toContain('the VM stays on the source');
    expect(failed.error?.message).toContain(`no migration of VM ${vmId} runs on this host`);
    expect(await vmRow(vmId)).toMatchObject({ host_id: source.hostId, state: 'running' });
  }, 30_000);

  it('settles from what the agents report when the source agent reconnects with a snapshot mid-migration', async () => {
    const { source, destination, vmId, vmName } = await setUp('snap');
    const id = (await migrate(vmId, { destination_host_id: destination.hostId })).body.migration_id;
    await prepareOn(destination);
    const perform = await performStarts(source);
    // The source's snapshot no longer has the VM (it left); the destination's has it: neither applied yet.
    await source.agent.snapshot(1000, []);
    await source.agent.next('ack');
    await destination.agent.snapshot(1000, [vm(vmId, vmName)]);
    await destination.agent.next('ack');
    expect(await vmRow(vmId)).toMatchObject({ host_id: source.hostId });
    expect(await conflicts(vmId)).toBe(0);
    await source.agent.commandUpdate({
      commandId: perform.commandId,
      status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
    });
    await migrationUntil(t, operator, id, 'completed', (m) => m.status === 'completed');
    await eventually(
      'the VM on the destination',
      () => vmRow(vmId),
      (v) => v.host_id === destination.hostId,
    );
  }, 30_000);
});

// The default deployment: one controller on its embedded PGlite (one connection, the in-process notifier).
describe('live migration on the embedded database', () => {
  let t: TestApp;
  let admin: string;
  const agents: ScriptedHost[] = [];
  beforeAll(async () => {
    t = await createTestApp({ clock: new RealTimeClock(), database: 'embedded' });
    admin = await adminToken(t);
  });
  afterAll(async () => {
    for (const a of agents) a.agent.close();
    await t?.close();
  });

  it('migrates a VM end to end', async () => {
    const { source, destination, vmId, vmName } = await twoHostsWithVm(t, admin, 'embedded');
    agents.push(source, destination);
    const res = await t.request('POST', `/api/v1/vms/${vmId}/migrate`, {
      token: admin,
      body: { destination_host_id: destination.hostId },
    });
    expect(res.status, res.text).toBe(202);
    const id = res.body.migration_id as string;
    await prepareOn(destination);
    const perform = await performStarts(source);
    await destination.agent.batch([{ $case: 'vmUpdated', value: vm(vmId, vmName) }]);
    await destination.agent.next('ack');
    await source.agent.commandUpdate({
      commandId: perform.commandId,
      status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
    });
    const op = await t.request('GET', `/api/v1/operations/${id}?wait=10`, { token: admin });
    expect(op.body).toMatchObject({ kind: 'vm.migrate', status: 'succeeded' });
    expect((await t.request('GET', `/api/v1/migrations/${id}`, { token: admin })).body.status).toBe(
      'completed',
    );
    expect((await t.request('GET', `/api/v1/vms/${vmId}`, { token: admin })).body.host_id).toBe(
      destination.hostId,
    );
  }, 60_000);
});
