// The slonik pool. int8 is parsed to a JS number: sizes and ids stay far below 2^53.
// When the database dies, slonik destroys each connection that fails and opens new
// ones on demand, so the pool recovers by itself once the database is back (a
// restarted embedded server included): no reconnect logic here, and
// test/faults/postgres.test.ts holds it to that. Meanwhile a refused connection
// fails at once, and connectionTimeout bounds the wait for one that never answers.
import { createPool, createTypeParserPreset, sql, type CommonQueryMethods, type DatabasePool } from 'slonik';

export type { DatabasePool };

export async function openPool(url: string, options: { maximumPoolSize?: number; connectionTimeoutMs?: number } = {}): Promise<DatabasePool> {
  const parsers = createTypeParserPreset().filter((p) => p.name !== 'int8');
  return createPool(url, {
    maximumPoolSize: options.maximumPoolSize ?? 20,
    typeParsers: [...parsers, { name: 'int8', parse: (v: string) => Number.parseInt(v, 10) }],
    statementTimeout: 60_000,
    transactionRetryLimit: 5,
    connectionTimeout: options.connectionTimeoutMs ?? 10_000,
    idleTimeout: 30_000,
  });
}

/**
 * The current transaction's commit does not wait for its WAL flush. Only for rows whose loss in
 * a database crash does no harm (the caller says why); everything else commits durably.
 */
export async function commitWithoutFlush(tx: CommonQueryMethods): Promise<void> {
  await tx.query(sql.unsafe`SET LOCAL synchronous_commit = off`);
}
