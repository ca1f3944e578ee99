import { type Command, CommandStatus, type CommandUpdate, type PowerAction } from '@cockpit/proto';
import type { Logger } from 'pino';
import type { HypervisorDriver, PowerOperation } from '../driver/driver.ts';
import { isDriverError, UNSUPPORTED } from '../driver/driver-error.ts';
import type { MigrationSource } from '../migration/migration-source.ts';
import type { MigrationTarget } from '../migration/migration-target.ts';
import { type CommandOutcome, type CommandRecord, NOT_RECORDED } from './command-record.ts';
import { type VmRecords, waitForPowerOff } from './power-off.ts';
import { powerOperationOf } from './power-op.ts';
import { SerialLanes } from './serial-lanes.ts';

export interface CommandExecutorOptions {
  record: CommandRecord;
  driver: HypervisorDriver;
  migrationSource: MigrationSource;
  migrationTarget: MigrationTarget;
  /** The agent's records of its VMs (the journal): a graceful shutdown waits there for the VM to be off. */
  vms: VmRecords;
  log: Logger;
  now?: () => number;
}

/** Where command updates go: the current session's stream, when there is one. */
export type UpdateOutlet = (update: CommandUpdate) => void;

/**
 * The lane a command runs in: a VM's prepare and abandon run one after another, in the order they came.
 * A script that retries a failed whole-disk migration at once sends the abandon of the failed attempt and
 * the retry's prepare back to back; side by side, the abandon would remove an image the prepare had just
 * found there and meant to copy into. A release (the images a completed migration copied away) shares the
 * lane for the same reason: the VM sent straight back here prepares images at the same paths. The VM id's
 * case does not matter (a malformed one gets a lane of its own, and its command is refused when it runs).
 */
function laneOf(command: Command): string | undefined {
  const action = command.action;
  if (
    action?.$case !== 'migrationPrepare' &&
    action?.$case !== 'migrationAbandon' &&
    action?.$case !== 'migrationRelease'
  )
    return undefined;
  return `incoming ${action.value.vmId.toLowerCase()}`;
}

const SUCCEEDED: CommandOutcome = { status: 'succeeded' };
const STOPPED: CommandOutcome = {
  status: 'failed',
  error: { code: 'interrupted', message: 'the agent stopped while it waited for the guest' },
};

const shutdownTimedOut = (seconds: number): CommandOutcome => ({
  status: 'failed',
  error: {
    code: 'shutdown_timeout',
    message:
      `the guest was asked to shut down but had not powered off ${seconds} s later (it may ignore ACPI ` +
      'power-button requests, or still be shutting down); it was left as it is: stop it with force to pull the plug',
  },
});

const rebootTimedOut = (seconds: number): CommandOutcome => ({
  status: 'failed',
  error: {
    code: 'reboot_timeout',
    message:
      `the guest was asked to reboot but had not rebooted ${seconds} s later (it may ignore ACPI ` +
      'power-button requests, or still be shutting down); it was left as it is: restart it with force to reset it',
  },
});

const REBOOT_UNCONFIRMED: CommandOutcome = {
  status: 'failed',
  error: {
    code: 'reboot_unconfirmed',
    message:
      "the guest was asked to reboot, but the agent lost libvirt's events while it waited (its connection to " +
      'libvirtd dropped, or libvirt dropped events), so it cannot tell whether the guest rebooted: check the ' +
      'guest (its uptime) before asking again',
  },
};

const DEADLINE_EXCEEDED: CommandOutcome = {
  status: 'failed',
  error: { code: 'deadline_exceeded', message: 'the command arrived after its deadline; it was not run' },
};

/**
 * Runs the controller's commands, each id at most once. The record says so on disk before a command
 * runs; a repeated id gets the recorded outcome (or RUNNING while it runs) and is never run again.
 * Power operations succeed when the hypervisor accepted them, except a graceful shutdown or reboot that
 * names a timeout: it succeeds once done, and fails with `shutdown_timeout` or `reboot_timeout` (the VM
 * left as it is) when the guest did not act in time, or `reboot_unconfirmed` when libvirt's events were
 * lost during a reboot's wait.
 */
export class CommandExecutor {
  private outlet: UpdateOutlet | undefined;
  private readonly running = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly lanes = new SerialLanes();
  private readonly now: () => number;

  constructor(private readonly options: CommandExecutorOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Sends updates to `outlet` from now on (a new session); returns the function that stops it. */
  attach(outlet: UpdateOutlet): () => void {
    this.outlet = outlet;
    return () => {
      if (this.outlet === outlet) this.outlet = undefined;
    };
  }

  handle(command: Command): void {
    const { commandId: id } = command;
    const log = this.options.log.child({ commandId: id });
    if (id === '') {
      log.warn('ignoring a command without an id');
      return;
    }
    // Everything up to record.accept is synchronous, so a second copy of the id arriving at once already
    // finds the entry and is answered instead of run.
    const known = this.options.record.get(id);
    if (known !== undefined) {
      log.info(
        { outcome: known.outcome?.status ?? 'running' },
        'repeated command id: answering, not running',
      );
      this.send(
        known.outcome === undefined
          ? { commandId: id, status: CommandStatus.COMMAND_STATUS_RUNNING }
          : updateOf(id, known.outcome),
      );
      return;
    }
    if (command.deadlineMs !== 0 && this.now() > command.deadlineMs) {
      log.warn({ deadlineMs: command.deadlineMs }, 'command past its deadline: not running it');
      this.track(this.conclude(id, DEADLINE_EXCEEDED, log));
      return;
    }
    this.track(this.run(command, log));
  }

  /**
   * Stops: running commands, and those waiting in a lane, are abandoned unrecorded, so the next start
   * reports them as interrupted.
   */
  async close(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled([...this.running]);
  }

  private run(command: Command, log: Logger): Promise<void> {
    // Accepted at once (a repeated id finds the entry from here on), then run in its lane.
    const accepted = this.accept(command.commandId, log);
    return this.lanes.run(laneOf(command), async () => {
      if (!(await accepted) || this.abort.signal.aborted) return;
      log.info({ action: command.action?.$case }, 'running command');
      const outcome = await this.execute(command, log);
      if (this.abort.signal.aborted) return;
      await this.conclude(command.commandId, outcome, log);
    });
  }

  private async accept(id: string, log: Logger): Promise<boolean> {
    try {
      await this.options.record.accept(id);
    } catch (err) {
      // Not durably accepted: running it could run it twice after a restart, so it does not run.
      log.error({ err }, 'could not record the command as accepted: not running it');
      this.send(updateOf(id, NOT_RECORDED));
      return false;
    }
    this.send({ commandId: id, status: CommandStatus.COMMAND_STATUS_ACCEPTED });
    return true;
  }

  private async conclude(id: string, outcome: CommandOutcome, log: Logger): Promise<void> {
    try {
      await this.options.record.finish(id, outcome);
    } catch (err) {
      log.error({ err }, 'could not record the outcome; a restart will report the command as interrupted');
    }
    if (outcome.status === 'failed') log.warn({ error: outcome.error }, 'command failed');
    else log.info('command succeeded');
    this.send(updateOf(id, outcome));
  }

  /**
   * A power operation. A graceful one with a timeout (the controller's always have one) waits until it is
   * done: a shutdown for the VM's record to say off, a reboot for libvirt's reboot event, armed before
   * the call so that a quick guest is not missed. Not done in time: it fails, or with
   * `forceAfterTimeout` pulls the plug (shutdown) or resets the guest (reboot) and succeeds.
   */
  private async power(
    action: PowerAction,
    op: PowerOperation,
    signal: AbortSignal,
    log: Logger,
  ): Promise<CommandOutcome> {
    const { driver, vms } = this.options;
    const { vmId, timeoutS, forceAfterTimeout } = action;
    const wait = { timeoutMs: timeoutS * 1000, signal };
    if (timeoutS === 0 || (op !== 'shutdown' && op !== 'reboot')) {
      await driver.power(vmId, op, { signal });
      return SUCCEEDED;
    }
    let done: boolean;
    if (op === 'reboot' && driver.nextReboot !== undefined) {
      const asked = new AbortController();
      const rebooted = driver.nextReboot(vmId, { ...wait, signal: AbortSignal.any([signal, asked.signal]) });
      try {
        await driver.power(vmId, op, { signal });
      } catch (err) {
        // Refused: nothing to wait for.
        asked.abort();
        await rebooted;
        throw err;
      }
      log.info({ timeoutS }, 'waiting for the guest to reboot');
      const outcome = await rebooted;
      // Events lost meanwhile: no reset (force_after_timeout) of a guest that may have rebooted already.
      if (outcome === 'missed') return REBOOT_UNCONFIRMED;
      done = outcome === 'rebooted';
    } else {
      await driver.power(vmId, op, { signal });
      if (op === 'shutdown') log.info({ timeoutS }, 'waiting for the guest to power off');
      done = op === 'reboot' || (await waitForPowerOff(vms, vmId, wait));
    }
    if (done) return SUCCEEDED;
    // The agent is stopping: run() records nothing, and the next start answers the command interrupted.
    if (signal.aborted) return STOPPED;
    if (!forceAfterTimeout) return op === 'shutdown' ? shutdownTimedOut(timeoutS) : rebootTimedOut(timeoutS);
    try {
      await driver.power(vmId, op === 'shutdown' ? 'destroy' : 'reset', { signal });
    } catch (err) {
      // The guest powered off just now, after all.
      if (op === 'shutdown' && (await waitForPowerOff(vms, vmId, { timeoutMs: 0 }))) return SUCCEEDED;
      throw err;
    }
    return SUCCEEDED;
  }

  private async execute(command: Command, log: Logger): Promise<CommandOutcome> {
    const signal = this.abort.signal;
    const action = command.action;
    try {
      switch (action?.$case) {
        case 'power': {
          const op = powerOperationOf(action.value.op);
          if (op === undefined)
            return unsupported(`power operation ${action.value.op} is not known to this agent`);
          return await this.power(action.value, op, signal, log);
        }
        case 'migrationPrepare': {
          const prepared = await this.options.migrationTarget.prepare(action.value);
          return { status: 'succeeded', detail: { $case: 'migrationPrepared', value: prepared } };
        }
        case 'migrationPerform': {
          const final = await this.options.migrationSource.perform(action.value, {
            signal,
            copying: (images) => this.options.record.note(command.commandId, { copiedImages: images }),
            progress: (value) =>
              this.send({
                commandId: command.commandId,
                status: CommandStatus.COMMAND_STATUS_RUNNING,
                detail: { $case: 'migrationProgress', value },
              }),
          });
          // The final figures (downtime included, when libvirt reports it) ride on the SUCCEEDED update.
          return {
            status: 'succeeded',
            detail: final === undefined ? undefined : { $case: 'migrationProgress', value: final },
          };
        }
        case 'migrationCancel':
          await this.options.migrationSource.cancel(action.value);
          return { status: 'succeeded' };
        case 'migrationForceComplete':
          await this.options.migrationSource.forceComplete(action.value);
          return { status: 'succeeded' };
        case 'migrationAbandon': {
          // The prepare's answer as this agent recorded it: the images it created, never paths named by
          // the controller.
          const outcome = this.options.record.get(action.value.prepareCommandId)?.outcome;
          const prepared =
            outcome?.status === 'succeeded' && outcome.detail?.$case === 'migrationPrepared'
              ? outcome.detail.value
              : undefined;
          await this.options.migrationTarget.abandon(action.value, prepared);
          return { status: 'succeeded' };
        }
        case 'migrationRelease': {
          // The perform's note as this agent recorded it: never paths named by the controller.
          const note = this.options.record.get(action.value.performCommandId)?.note;
          await this.options.migrationSource.release(action.value, note?.copiedImages ?? []);
          return { status: 'succeeded' };
        }
        default:
          return unsupported('a command this agent does not know');
      }
    } catch (err) {
      if (isDriverError(err)) return { status: 'failed', error: { code: err.code, message: err.message } };
      this.options.log.error({ err, commandId: command.commandId }, 'command failed unexpectedly');
      return {
        status: 'failed',
        error: { code: 'internal', message: String((err as Error).message ?? err) },
      };
    }
  }

  private track(work: Promise<void>): void {
    this.running.add(work);
    void work.finally(() => this.running.delete(work));
  }

  private send(update: CommandUpdate): void {
    this.outlet?.(update);
  }
}

const unsupported = (message: string): CommandOutcome => ({
  status: 'failed',
  error: { code: UNSUPPORTED, message },
});

function updateOf(commandId: string, outcome: CommandOutcome): CommandUpdate {
  if (outcome.status === 'succeeded') {
    return { commandId, status: CommandStatus.COMMAND_STATUS_SUCCEEDED, detail: outcome.detail };
  }
  return { commandId, status: CommandStatus.COMMAND_STATUS_FAILED, error: outcome.error };
}
