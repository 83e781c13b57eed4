// Webhook endpoints and the outbox the events trigger fills (migrations/0005).
//
// Delivery protocol: a worker claims, in one statement, the oldest undelivered
// row of each (endpoint, repository) whose turn has come, locking the rows it
// takes with FOR UPDATE SKIP LOCKED (replicas never wait on each other) and
// writing a lease into them. The statement commits at once: nothing is held
// open while sending. It then marks each row delivered or failed, guarded by its
// lease token. A row whose lease expired (a worker died while sending) is taken
// again, so delivery is at least once. The head of a group that is leased or
// waiting for its retry blocks the rest of the group: order is kept.
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

const EndpointRow = z.object({
  id: z.number(),
  url: z.string(),
  repository_glob: z.string().nullable(),
  kinds: z.array(z.string()).nullable(),
  enabled: z.boolean(),
  pending: z.number(),
});
export type EndpointRow = z.infer<typeof EndpointRow>;

export interface NewEndpoint {
  url: string;
  secret: string;
  repository: { glob: string; regex: string } | null;
  kinds: readonly string[] | null;
}

export async function insertEndpoint(db: CommonQueryMethods, e: NewEndpoint): Promise<number> {
  return db.oneFirst(sql.type(z.object({ id: z.number() }))`
    INSERT INTO webhook_endpoints (url, secret, repository_glob, repository_regex, kinds)
    VALUES (${e.url}, ${e.secret}, ${e.repository?.glob ?? null}, ${e.repository?.regex ?? null},
            ${e.kinds === null ? null : sql.array(e.kinds, 'text')})
    RETURNING id`);
}

export async function listEndpoints(db: CommonQueryMethods): Promise<readonly EndpointRow[]> {
  return db.any(sql.type(EndpointRow)`
    SELECT w.id, w.url, w.repository_glob, w.kinds, w.enabled,
           (SELECT count(*) FROM webhook_outbox o WHERE o.endpoint_id = w.id AND o.delivered_at IS NULL) AS pending
    FROM webhook_endpoints w ORDER BY w.id`);
}

/** Removes the endpoint and its undelivered events; true when it existed. */
export async function deleteEndpoint(db: CommonQueryMethods, id: number): Promise<boolean> {
  const row = await db.maybeOne(sql.type(z.object({ id: z.number() }))`DELETE FROM webhook_endpoints WHERE id = ${id} RETURNING id`);
  return row !== null;
}

const Claimed = z.object({ id: z.number(), event_id: z.number(), attempts: z.number(), url: z.string(), secret: z.string() });
export type ClaimedDelivery = z.infer<typeof Claimed>;

export async function claimDeliveries(db: CommonQueryMethods, token: string, limit: number, leaseMs: number): Promise<readonly ClaimedDelivery[]> {
  return db.any(sql.type(Claimed)`
    WITH heads AS (
      SELECT DISTINCT ON (o.endpoint_id, o.repository) o.id
      FROM webhook_outbox o JOIN webhook_endpoints w ON w.id = o.endpoint_id AND w.enabled
      WHERE o.delivered_at IS NULL
      ORDER BY o.endpoint_id, o.repository, o.id
    ), claimable AS (
      SELECT o.id FROM webhook_outbox o
      WHERE o.id IN (SELECT id FROM heads)
        AND o.delivered_at IS NULL
        AND o.next_attempt_at <= now()
        AND (o.lease_until IS NULL OR o.lease_until < now())
      ORDER BY o.id
      LIMIT ${limit}
      FOR UPDATE OF o SKIP LOCKED
    )
    UPDATE webhook_outbox o
    SET lease_token = ${token}::uuid, lease_until = now() + ${leaseMs} * interval '1 millisecond'
    FROM claimable c, webhook_endpoints w
    WHERE o.id = c.id AND w.id = o.endpoint_id
    RETURNING o.id, o.event_id, o.attempts, w.url, w.secret`);
}

export async function markDelivered(db: CommonQueryMethods, id: number, token: string): Promise<void> {
  await db.query(sql.unsafe`
    UPDATE webhook_outbox
    SET delivered_at = now(), attempts = attempts + 1, lease_token = NULL, lease_until = NULL, last_error = NULL
    WHERE id = ${id} AND lease_token = ${token}::uuid`);
}

export async function markFailed(db: CommonQueryMethods, id: number, token: string, retryInMs: number, error: string): Promise<void> {
  await db.query(sql.unsafe`
    UPDATE webhook_outbox
    SET attempts = attempts + 1, next_attempt_at = now() + ${retryInMs} * interval '1 millisecond',
        lease_token = NULL, lease_until = NULL, last_error = ${error.slice(0, 500)}
    WHERE id = ${id} AND lease_token = ${token}::uuid`);
}

/** Gives back leases not used (shutdown), so the rows are due at once for whoever runs next. */
export async function releaseLeases(db: CommonQueryMethods, ids: readonly number[], token: string): Promise<void> {
  if (ids.length === 0) return;
  await db.query(sql.unsafe`
    UPDATE webhook_outbox SET lease_token = NULL, lease_until = NULL
    WHERE id = ANY(${sql.array(ids, 'int8')}) AND lease_token = ${token}::uuid`);
}

export async function outboxBacklog(db: CommonQueryMethods): Promise<number> {
  return db.oneFirst(sql.type(z.object({ n: z.number() }))`
    SELECT count(*) AS n FROM webhook_outbox WHERE delivered_at IS NULL`);
}
