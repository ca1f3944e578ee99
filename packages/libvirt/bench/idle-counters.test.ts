import { describe, expect, it } from 'vitest';
import { countInterrupts } from './idle-counters.ts';

describe('countInterrupts', () => {
  it('adds RES and CAL over the vCPUs, counts TLB apart, and skips every other line', () => {
    const text = [
      '           CPU0       CPU1       ',
      '  0:         43          0   IO-APIC   2-edge      timer',
      'LOC:      25616      29348   Local timer interrupts',
      'RES:      16220      12073   Rescheduling interrupts',
      'CAL:      85257      80856   Function call interrupts',
      'TLB:       3912       2726   TLB shootdowns',
      'ERR:          0',
    ].join('\n');
    expect(countInterrupts(text)).toEqual({ ipis: 16220 + 12073 + 85257 + 80856, tlb: 3912 + 2726 });
  });

  it('gives zeros for a text without those lines', () => {
    expect(countInterrupts('LOC: 1 2 Local timer interrupts\n')).toEqual({ ipis: 0, tlb: 0 });
  });
});
