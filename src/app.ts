// The app: limits and content checks first, then the route modules, then one error handler.
import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import { browserCors } from "./auth/cors";
import { onError, Problem, problemResponse } from "./errors";
import { router } from "./http";
import { jsonNodes, parseJson, pathOf } from "./json-text";
import { adminKeys } from "./routes/admin-keys";
import { events } from "./routes/events";
import { me } from "./routes/me";
import { profiles } from "./routes/profiles";
import { recognize } from "./routes/recognize";
import { service } from "./routes/service";
import { sessions } from "./routes/sessions";

export const MAX_BODY_BYTES = 256 * 1024;

const JSON_TYPE = /^application\/([\w.+-]+\+)?json\s*(;|$)/i;
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)/i;
// The grammar the routes' own validators read a type by: stricter than RFC 9110's, which allows
// a space before `;` and an empty parameter.
const PLAIN_JSON_TYPE = /^application\/([a-z-.]+\+)?json(;\s*[a-zA-Z0-9-]+=([^;]+))*$/i;

/** JSON, in UTF-8 (RFC 8259): a body declared in another charset would be misread, so it is refused. */
function isJson(type: string): boolean {
  const charset = CHARSET.exec(type)?.[1];
  return JSON_TYPE.test(type) && (charset === undefined || /^utf-?8$/i.test(charset));
}

/** Paths of every `"__proto__"` key in parsed JSON. */
function protoKeyPaths(value: unknown): string[] {
  const found: string[] = [];
  for (const node of jsonNodes(value)) if (node.key === "__proto__") found.push(pathOf(node));
  return found.sort();
}

/**
 * Bodies are JSON: anything else is a 415 before a byte of it is parsed. JSON.parse keeps a
 * `"__proto__"` key, but no plain object the validators build can: it would be answered as
 * accepted and silently dropped, so it is refused, naming where it is.
 */
const jsonBody = createMiddleware(async function jsonBody(c, next) {
  if (c.req.header("content-length") !== "0" && c.req.raw.body !== null) {
    const type = c.req.header("content-type") ?? "";
    if (!isJson(type)) throw new Problem(415, "Send the body as application/json, in UTF-8");
    // JSON by RFC 9110 but not by the validators' grammar: they get it typed plainly (the body is
    // read below, and Hono keeps it for them).
    if (!PLAIN_JSON_TYPE.test(type)) {
      const headers = new Headers(c.req.raw.headers);
      headers.set("content-type", "application/json");
      c.req.raw = new Request(c.req.raw, { headers });
    }
    // Hono caches the text, not the value: the validator parses it again. So the text is parsed
    // here only when the key can be in it, spelled out or escaped (`\u`), which bodies rarely are.
    const text = await c.req.text();
    const paths =
      text.includes("__proto__") || text.includes("\\u") ? protoKeyPaths(parseJson(text)) : [];
    if (paths.length) {
      throw new Problem(400, 'A key may not be "__proto__"', {
        errors: paths.map((path) => ({ path, message: '"__proto__" cannot be a key' })),
      });
    }
  }
  await next();
});

export function buildApp() {
  const app = router();
  app.use("/v1/*", browserCors);
  // Only these methods take a body; a GET's or a DELETE's is ignored, as HTTP leaves it meaningless.
  app.on(
    ["POST", "PUT"],
    "/v1/*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new Problem(413, `Bodies are limited to ${MAX_BODY_BYTES / 1024} KiB`);
      },
    }),
    jsonBody,
  );
  app.route("/", service);
  app.route("/", events);
  app.route("/", recognize);
  app.route("/", profiles);
  app.route("/", adminKeys);
  app.route("/", sessions);
  app.route("/", me);
  app.openAPIRegistry.registerComponent("securitySchemes", "Bearer", {
    type: "http",
    scheme: "bearer",
    description: "An API key (`sk_…`, `pk_…`) or a signed token",
  });
  app.doc31("/v1/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Recognition edge API",
      version: "1",
      description: "Recognise the same person on web, app and in store.",
    },
  });
  // Answered, not thrown: a throw here skips the headers middleware set (CORS among them).
  app.notFound(() => problemResponse(new Problem(404, "No such endpoint")));
  app.onError(onError);
  return app;
}
