// Bench-only entry, never deployed (bench/wrangler.toml): the service unchanged, plus primitive
// routes that cost exactly one Durable Object hop, reading or writing one row (each also with the
// JSON body a lookup or an event carries) — the yardsticks the service's routes are compared
// with — a probe of a profile's storage size, and a count of the Durable Object calls a request
// makes.
import { DurableObject } from "cloudflare:workers";
import { Hono } from "hono";
import service, { ProfileObject as ServiceProfileObject } from "../src/index";
import type { IngestInput, IngestOutcome, Outcome } from "../src/profile/protocol";

export { ConfigObject, IdentityObject } from "../src/index";

/**
 * The service's ProfileObject with one added read-only method, so the bench can ask an object how
 * much SQLite storage it uses; every method the service calls is inherited untouched.
 */
export class ProfileObject extends ServiceProfileObject {
  databaseSize(): number {
    return this.ctx.storage.sql.databaseSize;
  }
}

/**
 * The ceiling of any ingest on this machine: the service's ingest route in full (authentication,
 * validation, identifiers, resolution, the hop with the event), against a profile that, once
 * created, stores nothing and answers the view it already has. Requests carrying `STORELESS` use it.
 */
export class StorelessProfileObject extends ProfileObject {
  override async ingest(input: IngestInput): Promise<Outcome<IngestOutcome>> {
    const view = this.view(input.view);
    if (view.status !== "ok") return super.ingest(input);
    return {
      status: "ok",
      value: { kind: "recorded", view: view.value, accepted: [], droppedTraits: [] },
    };
  }
}

/** One SQLite table with one row: the cheapest read and write a Durable Object can do. */
export class BenchObject extends DurableObject {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS rows (k INTEGER PRIMARY KEY, v TEXT NOT NULL)",
    );
  }

  read(key: number): string | null {
    const rows = this.ctx.storage.sql.exec<{ v: string }>("SELECT v FROM rows WHERE k = ?", key);
    return rows.toArray()[0]?.v ?? null;
  }

  write(key: number, value: string): void {
    this.ctx.storage.sql.exec(
      "INSERT INTO rows (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
      key,
      value,
    );
  }
}

interface BenchEnv extends Omit<Env, "PROFILES"> {
  PROFILES: DurableObjectNamespace<ProfileObject>;
  BENCH: DurableObjectNamespace<BenchObject>;
  STORELESS: DurableObjectNamespace<StorelessProfileObject>;
}

const ROW = 1;

// A plain Hono router: a primitive pays routing as the floor (/healthz) does, plus its one hop.
const bench = new Hono<{ Bindings: BenchEnv }>()
  .get("/bench/read/:n", async (c) => {
    const value = await c.env.BENCH.getByName(`bench-${c.req.param("n")}`).read(ROW);
    return c.json({ value });
  })
  // The read as a POST lookup sends it: the body is read and parsed, then the same one hop.
  .post("/bench/read/:n", async (c) => {
    const body = await c.req.json<{ identifiers: Record<string, string> }>();
    const value = await c.env.BENCH.getByName(`bench-${c.req.param("n")}`).read(ROW);
    return c.json({ value, identifiers: Object.keys(body.identifiers).length });
  })
  // With a JSON body, the write as an ingest sends it: the event is read, parsed and stored.
  .post("/bench/write/:n", async (c) => {
    const value = c.req.header("content-type")
      ? JSON.stringify(await c.req.json())
      : String(Date.now());
    await c.env.BENCH.getByName(`bench-${c.req.param("n")}`).write(ROW, value);
    return c.json({ ok: true });
  })
  .get("/bench/profile-size/:id", async (c) => {
    const bytes = await c.env.PROFILES.getByName(c.req.param("id")).databaseSize();
    return c.json({ bytes });
  });

/** A request carrying this header is answered with it set to the Durable Object calls it made. */
const HOPS = "x-bench-hops";
const NAMESPACES = ["PROFILES", "IDENTITIES", "CONFIG", "BENCH", "STORELESS"] as const;
/** An ingest carrying this header goes to the storeless profiles (`StorelessProfileObject`). */
const STORELESS = "x-bench-storeless";

/** The env with every object stub counting its RPC calls into `calls` ("PROFILES.view" → 1). */
function counting(env: BenchEnv, calls: Map<string, number>): BenchEnv {
  const countingStub = (binding: string, stub: object) =>
    new Proxy(stub, {
      get(target, method) {
        const value = Reflect.get(target, method);
        if (typeof method !== "string" || method === "then" || typeof value !== "function") {
          return value;
        }
        return (...args: unknown[]) => {
          const name = `${binding}.${method}`;
          calls.set(name, (calls.get(name) ?? 0) + 1);
          // Reflect.apply: an RPC method is a stub too, and `value.apply` would be a remote call.
          return Reflect.apply(value, target, args);
        };
      },
    });
  const namespaces = new Map(
    NAMESPACES.map((binding) => {
      const namespace = env[binding] as unknown as { getByName(name: string): object };
      const getByName = (name: string) => countingStub(binding, namespace.getByName(name));
      return [
        binding,
        new Proxy(namespace, {
          get: (target, property) =>
            property === "getByName" ? getByName : Reflect.get(target, property),
        }),
      ];
    }),
  );
  // A proxy, not a copy: the runtime's env may keep bindings where a spread would not see them.
  return new Proxy(env, {
    get: (target, property) => namespaces.get(property as never) ?? Reflect.get(target, property),
  });
}

// One per env, as the runtime's own env is one object: the service caches its settings (and the
// identifier normalisations keyed by them) per env, and a new proxy per request made the
// storeless ceiling parse them again on every request.
const storelessEnvs = new WeakMap<BenchEnv, BenchEnv>();

/** The env with the storeless profiles in place of the service's. */
function storeless(env: BenchEnv): BenchEnv {
  let swapped = storelessEnvs.get(env);
  if (!swapped) {
    swapped = new Proxy(env, {
      get: (target, property) =>
        Reflect.get(target, property === "PROFILES" ? "STORELESS" : property),
    });
    storelessEnvs.set(env, swapped);
  }
  return swapped;
}

async function route(request: Request, env: BenchEnv, ctx: ExecutionContext): Promise<Response> {
  const { pathname } = new URL(request.url);
  if (pathname.startsWith("/bench/")) return bench.fetch(request, env, ctx);
  const serviceEnv =
    pathname === "/v1/events" && request.headers.has(STORELESS) ? storeless(env) : env;
  return service.fetch(request, serviceEnv as unknown as Env, ctx);
}

export default {
  async fetch(request, env, ctx) {
    // Load requests never carry the header: they pay one header lookup, nothing more.
    if (!request.headers.has(HOPS)) return route(request, env, ctx);
    const calls = new Map<string, number>();
    const response = await route(request, counting(env, calls), ctx);
    const headers = new Headers(response.headers);
    headers.set(HOPS, [...calls].map(([name, count]) => `${name}=${count}`).join(","));
    return new Response(response.body, { status: response.status, headers });
  },
} satisfies ExportedHandler<BenchEnv>;
