// Bench-only entry, never deployed (bench/wrangler.toml): the service unchanged, plus two primitive
// routes that cost exactly one Durable Object hop, reading or writing one row — the yardsticks the
// service's routes are compared with — and a probe of a profile's storage size.
import { DurableObject } from "cloudflare:workers";
import { Hono } from "hono";
import service, { ProfileObject as ServiceProfileObject } from "../src/index";

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

/** One SQLite table with one row: the cheapest read and write a Durable Object can do. */
export class BenchObject extends DurableObject {
  constructor(ctx: DurableObjectState, env: unknown) {
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
}

const ROW = 1;

// A plain Hono router: a primitive pays routing as the floor (/healthz) does, plus its one hop.
const bench = new Hono<{ Bindings: BenchEnv }>()
  .get("/bench/read/:n", async (c) => {
    const value = await c.env.BENCH.getByName(`bench-${c.req.param("n")}`).read(ROW);
    return c.json({ value });
  })
  .post("/bench/write/:n", async (c) => {
    await c.env.BENCH.getByName(`bench-${c.req.param("n")}`).write(ROW, String(Date.now()));
    return c.json({ ok: true });
  })
  .get("/bench/profile-size/:id", async (c) => {
    const bytes = await c.env.PROFILES.getByName(c.req.param("id")).databaseSize();
    return c.json({ bytes });
  });

export default {
  fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);
    return pathname.startsWith("/bench/")
      ? bench.fetch(request, env, ctx)
      : service.fetch(request, env as unknown as Env, ctx);
  },
} satisfies ExportedHandler<BenchEnv>;
