// ConfigObject: the one object for API keys (as hashes). Workers cache its snapshot, so a request
// pays no hop for configuration; a change reaches every isolate within the cache's lifetime.
import { DurableObject } from "cloudflare:workers";
import { hashSecret, newSecret, randomToken } from "../auth/secrets";
import type { ApiKey, CreateKey } from "../schemas";
import { migrate, type Sql, sqlTag } from "../sql";

export interface KeyGrant {
  id: string;
  role: ApiKey["role"];
  storeId?: string;
  origins?: string[];
}

export interface ConfigSnapshot {
  version: number;
  /** Keys by the hash of their secret. */
  keys: Record<string, KeyGrant>;
}

interface KeyRow extends Record<string, SqlStorageValue> {
  id: string;
  hash: string;
  role: string;
  name: string;
  store_id: string | null;
  origins: string | null;
  created_at: number;
}

const migrations = [
  {
    id: 1,
    up: `
      CREATE TABLE keys (
        id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL, name TEXT NOT NULL,
        store_id TEXT, origins TEXT, created_at INTEGER NOT NULL
      );
      CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      INSERT INTO settings (key, value) VALUES ('version', '1');
    `,
  },
];

function toKey(row: KeyRow): ApiKey {
  return {
    id: row.id,
    role: row.role as ApiKey["role"],
    name: row.name,
    ...(row.store_id ? { store_id: row.store_id } : {}),
    ...(row.origins ? { origins: JSON.parse(row.origins) as string[] } : {}),
    created_at: new Date(row.created_at).toISOString(),
  };
}

export class ConfigObject extends DurableObject<Env> {
  readonly #sql: Sql;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = sqlTag(ctx.storage.sql);
    ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage, migrations);
    });
  }

  async createKey(input: CreateKey): Promise<ApiKey & { key: string }> {
    const key = newSecret(input.role === "web");
    const row: KeyRow = {
      id: `key_${randomToken(12)}`,
      hash: await hashSecret(key),
      role: input.role,
      name: input.name,
      store_id: input.store_id ?? null,
      origins: input.origins ? JSON.stringify(input.origins.map((o) => new URL(o).origin)) : null,
      created_at: Date.now(),
    };
    this.ctx.storage.transactionSync(() => {
      this.#sql`INSERT INTO keys (id, hash, role, name, store_id, origins, created_at)
        VALUES (${row.id}, ${row.hash}, ${row.role}, ${row.name}, ${row.store_id}, ${row.origins}, ${row.created_at})`;
      this.#bump();
    });
    return { ...toKey(row), key };
  }

  listKeys(): ApiKey[] {
    return this.#sql<KeyRow>`SELECT * FROM keys ORDER BY created_at`.map(toKey);
  }

  revokeKey(id: string): boolean {
    let found = false;
    this.ctx.storage.transactionSync(() => {
      found = this.#sql`DELETE FROM keys WHERE id = ${id} RETURNING id`.length > 0;
      if (found) this.#bump();
    });
    return found;
  }

  /** The whole key table, or null when the caller's version is still current. */
  snapshot(knownVersion = 0): ConfigSnapshot | null {
    const version = this.#version();
    if (version === knownVersion) return null;
    const keys: Record<string, KeyGrant> = {};
    for (const row of this.#sql<KeyRow>`SELECT * FROM keys`) {
      keys[row.hash] = {
        id: row.id,
        role: row.role as ApiKey["role"],
        ...(row.store_id ? { storeId: row.store_id } : {}),
        ...(row.origins ? { origins: JSON.parse(row.origins) as string[] } : {}),
      };
    }
    return { version, keys };
  }

  #version(): number {
    return Number(
      this.#sql<{ value: string }>`SELECT value FROM settings WHERE key = 'version'`[0]?.value ?? 1,
    );
  }

  #bump(): void {
    this.#sql`UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'`;
  }
}
