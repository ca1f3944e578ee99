import { z } from '@hono/zod-openapi';

// An integer in a query string (`?limit=50`), documented as one. z.coerce.number() alone is documented
// as `integer | null` and without its bounds once described, so a client generated from the document
// could send `?limit=null` (refused). The OpenAPI override replaces the whole schema: bounds and
// default are spelled out in it.

interface IntegerQuery {
  min: number;
  max: number;
  description: string;
}

const integer = ({ min, max }: IntegerQuery, fallback?: number) =>
  z.coerce
    .number()
    .int()
    .min(min)
    .max(max)
    .openapi({
      type: 'integer',
      minimum: min,
      maximum: max,
      ...(fallback === undefined ? {} : { default: fallback }),
    });

/** `?name=<integer>`, optional. */
export const integerQuery = (name: string, spec: IntegerQuery) =>
  integer(spec)
    .optional()
    .openapi({ param: { name, in: 'query' }, description: spec.description });

/** `?name=<integer>`, `fallback` when left out. */
export const integerQueryOr = (name: string, fallback: number, spec: IntegerQuery) =>
  integer(spec, fallback)
    .default(fallback)
    .openapi({ param: { name, in: 'query' }, description: spec.description });
