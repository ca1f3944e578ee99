import type { ZodError } from 'zod';
import { ApiError, type FieldIssue } from './api-error.ts';
// Installs the API's wording for zod's issues (a side effect on zod's global configuration).
import './zod-messages.ts';

// Field paths name the part of the request as a client sees it: `body.username`, `query.limit`, `path.id`.
const TARGET_NAMES: Record<string, string> = { json: 'body', form: 'body', param: 'path' };

const NUL_MESSAGE = 'must not contain NUL (U+0000) characters';

/**
 * The app's validation hook, run on every part (path, query, headers, body) of every route's request:
 * a zod failure is 400 `validation_failed` naming each failing field; so is a NUL character in any
 * string that passed, since PostgreSQL text cannot hold one (JSON allows "\u0000") and a client's
 * mistake must not surface as a database error. Routes added later are covered without doing anything.
 */
export function validationHook(
  result: { target: string } & ({ success: true; data: unknown } | { success: false; error: ZodError }),
): void {
  const part = TARGET_NAMES[result.target] ?? result.target;
  if (!result.success) {
    throw validationFailed(
      result.error.issues.map((issue) => ({
        path: [part, ...issue.path.map(String)].join('.'),
        message: issue.message,
      })),
    );
  }
  const withNul = pathsWithNul(result.data, [part]);
  if (withNul.length > 0) {
    throw validationFailed(withNul.map((path) => ({ path: path.join('.'), message: NUL_MESSAGE })));
  }
}

/** Issues spelt out in the message; `details` holds them all. */
const ISSUES_IN_MESSAGE = 3;

/**
 * The message says what is wrong, not only where (`body: unknown field: forc`), for a person reading
 * only the message; past a few issues it counts the rest, which `details` lists.
 */
function validationFailed(details: FieldIssue[]): ApiError {
  const shown = details.slice(0, ISSUES_IN_MESSAGE).map((d) => `${d.path}: ${d.message}`);
  const more = details.length - shown.length;
  const message = `invalid request: ${shown.join('; ')}${more > 0 ? `; and ${more} more (see details)` : ''}`;
  return new ApiError('validation_failed', message, { details });
}

/** Where in a validated value a string (or an object key) holds U+0000. */
export function pathsWithNul(value: unknown, at: string[]): string[][] {
  if (typeof value === 'string') return value.includes('\u0000') ? [at] : [];
  if (Array.isArray(value)) return value.flatMap((item, i) => pathsWithNul(item, [...at, String(i)]));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([key, item]) =>
      key.includes('\u0000') ? [[...at, key]] : pathsWithNul(item, [...at, key]),
    );
  }
  return [];
}
