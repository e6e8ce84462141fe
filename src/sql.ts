// One SQL helper for Durable Object storage: every `${value}` is bound as `?`, failures name the query.
export type Row = Record<string, SqlStorageValue>;

export type Sql = <T extends Row = Row>(
  strings: TemplateStringsArray,
  ...values: SqlStorageValue[]
) => T[];

export function sqlTag(storage: SqlStorage): Sql {
  return <T extends Row>(strings: TemplateStringsArray, ...values: SqlStorageValue[]): T[] => {
    const query = strings.join("?");
    try {
      return storage.exec<T>(query, ...values).toArray();
    } catch (cause) {
      throw new Error(`SQL failed: ${query.replace(/\s+/g, " ").trim()}`, { cause });
    }
  };
}

/** Whether any migration ran here: a database nothing was ever written to has no schema. */
export function hasSchema(storage: DurableObjectStorage): boolean {
  const sql = sqlTag(storage.sql);
  return (
    sql`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`.length > 0
  );
}

export interface Migration {
  id: number;
  up: string;
}

/**
 * Applies the migrations not yet applied, in one transaction. The list is append-only: an
 * applied migration is never edited. PRAGMA user_version does not work here, hence our own table,
 * created in the same transaction as the first schema: a known object's wake-up runs no DDL.
 * `current`, the schema the migrations end in, lets a new database skip the intermediate steps.
 */
export function migrate(
  storage: DurableObjectStorage,
  migrations: readonly Migration[],
  current?: string,
): number {
  const sql = sqlTag(storage.sql);
  const fresh = !hasSchema(storage);
  const applied = fresh
    ? 0
    : (sql<{ id: number | null }>`SELECT max(id) AS id FROM schema_migrations`[0]?.id ?? 0);
  const pending = migrations.filter((m) => m.id > applied).sort((a, b) => a.id - b.id);
  if (pending.length === 0) return applied;
  const latest = pending.at(-1)?.id ?? applied;
  storage.transactionSync(() => {
    if (fresh)
      sql`CREATE TABLE schema_migrations (id INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`;
    if (fresh && current !== undefined) {
      storage.sql.exec(current);
      sql`INSERT INTO schema_migrations (id, applied_at) VALUES (${latest}, ${Date.now()})`;
      return;
    }
    for (const migration of pending) {
      storage.sql.exec(migration.up);
      sql`INSERT INTO schema_migrations (id, applied_at) VALUES (${migration.id}, ${Date.now()})`;
    }
  });
  return latest;
}
