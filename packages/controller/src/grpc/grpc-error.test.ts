import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { grpcErrorOf } from './grpc-error.ts';

describe('grpcErrorOf', () => {
  it('answers UNAVAILABLE (the agent tries again) for the database gone and for a rolled-back conflict', () => {
    expect(grpcErrorOf({ code: '57P01' })?.status).toBe(status.UNAVAILABLE);
    for (const code of ['40P01', '40001']) {
      const answer = grpcErrorOf({ code });
      expect(answer?.status, code).toBe(status.UNAVAILABLE);
      expect(answer?.message).toMatch(/rolled back; retry it$/);
    }
  });

  it('leaves a bug to the caller (INTERNAL, logged)', () => {
    expect(grpcErrorOf(new Error('boom'))).toBeNull();
    expect(grpcErrorOf({ code: '23505' })).toBeNull();
  });
});
