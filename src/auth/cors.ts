// CORS for browsers: a web key (and the devices it opened) works only from its configured origins.
import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import { keyTable } from "../config/cache";
import { Problem } from "../errors";
import type { Principal } from "./principal";

const corsHeaders = cors({
  origin: async (origin, c) =>
    origin && (await keyTable(c.env as Env)).origins.has(origin) ? origin : null,
  allowHeaders: ["authorization", "content-type"],
  allowMethods: ["GET", "POST", "PUT", "DELETE"],
  // Not a header browsers show scripts by default: the SDK reads it on a 429.
  exposeHeaders: ["Retry-After"],
  maxAge: 600,
});

/**
 * The CORS middleware: answers preflights and adds headers for origins some web key allows (a
 * preflight carries no credential, so it is checked against all). Back ends and tills send no
 * Origin: their requests skip it.
 */
export const browserCors = createMiddleware((c, next) =>
  c.req.header("origin") === undefined ? next() : corsHeaders(c, next),
);

/** The actual request: a web key or device token from an origin its key does not list is refused. */
export async function allowedOrigin(
  env: Env,
  principal: Principal,
  origin: string | undefined,
): Promise<void> {
  if (principal.role !== "web" && principal.role !== "device") return;
  const grant = (await keyTable(env)).byId.get(principal.keyId);
  if (!origin || !grant?.origins?.includes(origin)) {
    throw new Problem(403, "This key may be used only from its configured origins");
  }
}
