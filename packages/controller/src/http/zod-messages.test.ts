import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import './zod-messages.ts';

const messageOf = (schema: z.ZodType, value: unknown): string | undefined =>
  schema.safeParse(value).error?.issues[0]?.message;

describe('the API’s wording of what zod finds wrong', () => {
  it.each([
    [z.object({ a: z.string() }), {}, 'is required'],
    [z.string(), 5, 'must be a string'],
    [z.number().int(), 'x', 'must be a number'],
    [z.coerce.number().int().min(1), '0', 'must be at least 1'],
    [z.number().max(500), 501, 'must be at most 500'],
    [z.string().min(3), 'ab', 'must be at least 3 characters'],
    [z.string().max(1), 'ab', 'must be at most 1 character'],
    [z.array(z.string()).min(1), [], 'must have at least 1 item'],
    [z.enum(['viewer', 'operator', 'admin']), 'root', 'must be one of "viewer", "operator", "admin"'],
    [z.uuid(), 'nope', 'must be a UUID'],
    [z.strictObject({ role: z.string() }), { role: 'x', extra: 1 }, 'unknown field: extra'],
  ])('%# says it plainly', (schema, value, expected) => {
    expect(messageOf(schema as z.ZodType, value)).toBe(expected);
  });

  it('leaves a schema’s own message alone', () => {
    expect(messageOf(z.string().min(3, 'too short for a name'), 'ab')).toBe('too short for a name');
  });
});
