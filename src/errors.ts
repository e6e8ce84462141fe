// One error type for every refusal; the app's single error handler turns it into RFC 9457 problem details.
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ZodError } from "zod";

export type ProblemStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 500;

export interface FieldError {
  path: string;
  message: string;
}

const titles: Record<ProblemStatus, [slug: string, title: string]> = {
  400: ["invalid-request", "The request is not valid"],
  401: ["unauthenticated", "A valid credential is required"],
  403: ["forbidden", "This credential may not do that"],
  404: ["not-found", "Not found"],
  409: ["conflict", "Conflict"],
  413: ["too-large", "The body is too large"],
  415: ["unsupported-media-type", "The body must be JSON"],
  429: ["rate-limited", "Too many requests"],
  500: ["internal", "Something went wrong on our side"],
};

export interface ProblemOptions {
  errors?: FieldError[];
  cause?: unknown;
  retryAfter?: number;
}

/** Stops a request: `throw new Problem(404, "No profile with that id")`. The cause is logged, never sent. */
export class Problem extends Error {
  readonly errors: FieldError[] | undefined;
  readonly retryAfter: number | undefined;

  constructor(
    readonly status: ProblemStatus,
    readonly detail: string,
    options: ProblemOptions = {},
  ) {
    super(detail, { cause: options.cause });
    this.name = "Problem";
    this.errors = options.errors;
    this.retryAfter = options.retryAfter;
  }

  toJSON(): ProblemBody {
    const [slug, title] = titles[this.status];
    return {
      type: `/problems/${slug}`,
      title,
      status: this.status,
      detail: this.detail,
      ...(this.errors ? { errors: this.errors } : {}),
    };
  }
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
}

/** Zod issues as `{ path, message }`, paths in dotted form (`batch.3.identifiers.email`). */
export function fieldErrors(error: ZodError, prefix: (string | number)[] = []): FieldError[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path].map(String).join(".") || "(body)",
    message: issue.message,
  }));
}

export function invalid(
  error: ZodError,
  detail = "The request does not match the schema",
): Problem {
  return new Problem(400, detail, { errors: fieldErrors(error), cause: error });
}

export function problemResponse(problem: Problem): Response {
  const headers = new Headers({ "content-type": "application/problem+json" });
  if (problem.retryAfter !== undefined) headers.set("retry-after", String(problem.retryAfter));
  return new Response(JSON.stringify(problem.toJSON()), { status: problem.status, headers });
}

function asProblem(err: unknown): Problem {
  if (err instanceof Problem) return err;
  if (err instanceof HTTPException) {
    const status = err.status as ProblemStatus;
    // Hono's own refusals: a body that is not JSON at all is a 400 like any other, with `errors`.
    const errors = status === 400 ? [{ path: "(body)", message: err.message }] : undefined;
    if (status in titles && status !== 500)
      return new Problem(status, err.message, { cause: err, errors });
  }
  return new Problem(500, "The request could not be completed; it is safe to retry.", {
    cause: err,
  });
}

/** The app's one error handler. Unknown errors are logged by name only: messages may carry PII. */
export function onError(err: unknown, c: Context): Response {
  const problem = asProblem(err);
  if (problem.status === 500) {
    const cause = err instanceof Error ? err.name : typeof err;
    console.error(
      JSON.stringify({ level: "error", msg: "unhandled", cause, path: c.req.routePath }),
    );
  }
  return problemResponse(problem);
}
