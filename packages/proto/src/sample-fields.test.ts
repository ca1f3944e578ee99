import { describe, expect, it } from 'vitest';
import { HostSample, VmSample } from './gen/cockpit/agent/v1/metrics.ts';
import { HOST_FIELDS, VM_FIELDS } from './sample-fields.ts';

// present_fields bits are field numbers of metrics.proto: each constant must be the number the encoder
// writes for that field, or the controller would read the wrong bits.

/** The field number of the first field on the wire (its tag is a varint: field number << 3 | wire type). */
function firstFieldNumber(bytes: Uint8Array): number {
  let tag = 0;
  for (let i = 0, shift = 0; i < bytes.length; i++, shift += 7) {
    const byte = bytes[i] ?? 0;
    tag |= (byte & 0x7f) << shift;
    if (byte < 0x80) break;
  }
  return tag >>> 3;
}

describe('present_fields bits', () => {
  it('match the field numbers of VmSample', () => {
    for (const [field, number] of Object.entries(VM_FIELDS)) {
      const bytes = VmSample.encode(VmSample.fromPartial({ [field]: 7 })).finish();
      expect([field, firstFieldNumber(bytes)]).toEqual([field, number]);
      expect(number).toBeLessThan(31);
    }
  });

  it('match the field numbers of HostSample', () => {
    for (const [field, number] of Object.entries(HOST_FIELDS)) {
      const bytes = HostSample.encode(HostSample.fromPartial({ [field]: 7 })).finish();
      expect([field, firstFieldNumber(bytes)]).toEqual([field, number]);
    }
  });
});
