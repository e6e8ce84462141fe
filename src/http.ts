// Shared pieces of every route module: the router factory, problem responses for the OpenAPI
// document, and the request context the resolver needs.
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context, TypedResponse } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { JSONParsed } from "hono/utils/types";
import { invalid } from "./errors";
import { Resolver } from "./identity/resolver";
import type { JsonText } from "./json-text";
import { ProblemSchema } from "./schemas";
import { settingsFor } from "./settings";

export type AppEnv = { Bindings: Env };

/** A router whose failed validations become 400 problems with the field paths. */
export function router() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw invalid(result.error);
    },
  });
}

const descriptions: Record<number, string> = {
  400: "Invalid body or query; `errors` lists each field",
  401: "Missing, invalid or expired credential",
  403: "The credential may not do this",
  404: "Unknown profile or identifier",
  409: "Conflict",
  413: "Body larger than 256 KiB",
  415: "Body is not JSON",
  429: "Rate limited; see Retry-After",
};

const RETRY_AFTER = {
  "Retry-After": {
    description: "Seconds until the limit lets requests through again",
    schema: { type: "integer" as const, minimum: 1 },
  },
};

/** OpenAPI entries for the problem responses a route can give. */
export function problems(...statuses: (keyof typeof descriptions)[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: descriptions[status] ?? "Problem",
        content: { "application/problem+json": { schema: ProblemSchema } },
        ...(status === 429 ? { headers: RETRY_AFTER } : {}),
      },
    ]),
  );
}

export const json = <T>(schema: T) => ({ content: { "application/json": { schema } } });

export const bearer = [{ Bearer: [] }];

/** JSON text as the response body, typed as `c.json` types its value, for typed routes. */
export function sendJson<T, S extends ContentfulStatusCode>(
  c: Context,
  text: JsonText<T>,
  status: S,
) {
  const response = c.body(text, status, { "content-type": "application/json" });
  return response as typeof response & TypedResponse<JSONParsed<T>, S, "json">;
}

export function resolverFor(c: Context<AppEnv>): Resolver {
  return new Resolver({
    env: c.env,
    settings: settingsFor(c.env),
    defer: (promise) => c.executionCtx.waitUntil(promise),
  });
}
