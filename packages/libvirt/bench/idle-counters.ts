import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';

// The machine's idle and wake-up counters, read around a probe run: how often a vCPU went idle
// through a state that leaves the guest (a halt; the cpuidle states other than POLL), and how many
// inter-processor interrupts the kernel sent to wake or run something on another vCPU (RES and CAL
// of /proc/interrupts). In a virtual machine each of these costs an exit to the hypervisor; on the
// machines of docs/benchmarks.md "Idle polling" they decide the throughput with calls in flight.

const CPUS = '/sys/devices/system/cpu';

/** The guest kernel's idle-poll time (cpuidle-haltpoll), when the machine has that driver. */
export const HALT_POLL_NS = '/sys/module/haltpoll/parameters/guest_halt_poll_ns';

/**
 * The cpuidle driver in use: `haltpoll` where the guest polls before it halts; `none` where the
 * kernel idles through plain HLT and keeps no per-state counts. The haltpoll parameters exist on a
 * kernel built with it whatever the driver (seen on a machine with driver `none`): they matter only
 * when this is `haltpoll`.
 */
export function cpuidleDriver(): string {
  try {
    return readFileSync(`${CPUS}/cpuidle/current_driver`, 'utf8').trim();
  } catch {
    return 'none';
  }
}

export interface IdleCounters {
  /** Entries into a halting idle state, all vCPUs; NaN without a cpuidle driver, which counts none. */
  halts: number;
  /** Rescheduling and function-call interrupts, all vCPUs. */
  ipis: number;
  /** Of the function-call interrupts, those that flushed another vCPU's TLB (TLB line). */
  tlb: number;
}

export function readIdleCounters(): IdleCounters {
  let halts = cpuidleDriver() === 'none' ? Number.NaN : 0;
  for (const cpu of readdirSync(CPUS).filter((d) => /^cpu\d+$/.test(d))) {
    const dir = `${CPUS}/${cpu}/cpuidle`;
    if (!existsSync(dir)) continue;
    for (const state of readdirSync(dir).filter((d) => d.startsWith('state'))) {
      if (readFileSync(`${dir}/${state}/name`, 'utf8').trim() === 'POLL') continue;
      halts += Number(readFileSync(`${dir}/${state}/usage`, 'utf8'));
    }
  }
  const { ipis, tlb } = countInterrupts(readFileSync('/proc/interrupts', 'utf8'));
  return { halts, ipis, tlb };
}

/** RES + CAL (all vCPUs) and TLB of a `/proc/interrupts` text. */
export function countInterrupts(text: string): { ipis: number; tlb: number } {
  let ipis = 0;
  let tlb = 0;
  for (const line of text.split('\n')) {
    const [name, ...fields] = line.trim().split(/\s+/);
    if (name !== 'RES:' && name !== 'CAL:' && name !== 'TLB:') continue;
    // One count per vCPU, then the description ("Rescheduling interrupts").
    let n = 0;
    for (const f of fields) if (/^\d+$/.test(f)) n += Number(f);
    if (name === 'TLB:') tlb += n;
    else ipis += n;
  }
  return { ipis, tlb };
}

export const countersSince = (before: IdleCounters): IdleCounters => {
  const now = readIdleCounters();
  return { halts: now.halts - before.halts, ipis: now.ipis - before.ipis, tlb: now.tlb - before.tlb };
};

/** The machine's idle-poll time as the bench's header states it. */
export function haltPollNow(): string {
  const driver = cpuidleDriver();
  return driver === 'haltpoll' && existsSync(HALT_POLL_NS)
    ? `guest halt poll ${readFileSync(HALT_POLL_NS, 'utf8').trim()} ns`
    : `no guest halt polling (cpuidle driver ${driver})`;
}

/**
 * Runs `fn` with the guest kernel polling `ns` nanoseconds before it halts an idle vCPU, then puts
 * the machine's own value back, also when the run is interrupted (Ctrl-C, kill): a bench must not
 * leave the machine's idle policy changed. Needs root and the cpuidle-haltpoll driver.
 */
export async function withHaltPoll<T>(ns: number, fn: () => Promise<T>): Promise<T> {
  const driver = cpuidleDriver();
  if (driver !== 'haltpoll' || !existsSync(HALT_POLL_NS))
    throw new Error(
      `the cpuidle driver is ${driver}, not haltpoll: ${HALT_POLL_NS} would change nothing here`,
    );
  const own = readFileSync(HALT_POLL_NS, 'utf8').trim();
  const restore = () => writeFileSync(HALT_POLL_NS, own);
  const onSignal = (signal: NodeJS.Signals) => {
    restore();
    process.kill(process.pid, signal);
  };
  writeFileSync(HALT_POLL_NS, String(ns));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, onSignal);
  try {
    return await fn();
  } finally {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.off(signal, onSignal);
    restore();
  }
}
