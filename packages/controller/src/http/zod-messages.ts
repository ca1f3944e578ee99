import { z } from 'zod';
import type { $ZodRawIssue } from 'zod/v4/core';

type Issue = $ZodRawIssue;

const article = (what: string) => (/^[aeiou]/.test(what) ? `an ${what}` : `a ${what}`);

const FORMATS: Record<string, string> = {
  uuid: 'a UUID',
  guid: 'a UUID',
  datetime: 'an RFC 3339 time such as 2026-12-03T10:00:00Z',
  date: 'a date such as 2026-12-03',
  email: 'an email address',
  url: 'a URL',
  regex: 'in the expected format',
};

/**
 * The API's own wording for what zod finds wrong, for every schema that did not say it itself:
 * `must be at least 1`, not zod's `Too small: expected number to be >=1`. Per-schema messages
 * (`must be 3-32 characters: …`) still win; this is only the fallback.
 */
export function describeIssue(issue: Issue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? 'is required' : `must be ${article(String(issue.expected))}`;
    case 'too_small':
      return bound('least', 'more than', String(issue.minimum), issue.origin, issue.inclusive);
    case 'too_big':
      return bound('most', 'less than', String(issue.maximum), issue.origin, issue.inclusive);
    case 'invalid_value':
      return `must be one of ${issue.values.map((v: unknown) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_format':
      return `must be ${FORMATS[issue.format] ?? `a valid ${issue.format}`}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length === 1 ? '' : 's'}: ${issue.keys.join(', ')}`;
    case 'invalid_union':
      return 'matches none of the accepted forms';
    default:
      return 'is not valid here';
  }
}

/** `must be at least 3 characters`, `must have at most 2 items`, `must be more than 0`. */
function bound(
  side: 'least' | 'most',
  strictly: string,
  n: string,
  origin: string,
  inclusive?: boolean,
): string {
  const plural = n === '1' ? '' : 's';
  if (origin === 'string') return `must be at ${side} ${n} character${plural}`;
  if (origin === 'array' || origin === 'set') return `must have at ${side} ${n} item${plural}`;
  return inclusive === false ? `must be ${strictly} ${n}` : `must be at ${side} ${n}`;
}

z.config({ customError: describeIssue });
