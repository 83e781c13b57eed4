// Upload session leases: a writer holds the session row's lease while it appends,
// so two requests never write the same staged bytes, on any replica.
import { randomUUID } from 'node:crypto';
import { askForLease } from '../../db/notify.ts';
import { findRepository } from '../../db/repositories.ts';
import * as sessions from '../../db/uploads.ts';
import { RegistryError } from '../../errors/codes.ts';
import type { RegistryContext } from '../context.ts';
import type { RepoName } from '../../shared/names.ts';

/** The session in the named repository; BLOB_UPLOAD_UNKNOWN when there is none. */
export async function findRow(ctx: RegistryContext, name: RepoName, id: string): Promise<sessions.SessionRow> {
  const repositoryId = await findRepository(ctx.pool, name);
  const row = isUuid(id) && repositoryId !== null ? await sessions.findSession(ctx.pool, id, repositoryId) : null;
  if (!row) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', `no upload session ${id} in ${name}`);
  return row;
}

function isUuid(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}

export function rangeHeaders(offset: number): Record<string, string> {
  return { Range: `0-${Math.max(offset - 1, 0)}` };
}

/**
 * Errors meaning the client went away mid-body. Releasing the lease after one marks
 * the session interrupted: unless resumed in time, it is reclaimed early (gc/sweep.ts).
 */
const cutOff = new WeakSet<RegistryError>();

export function clientWentAway(detail: string): RegistryError {
  const err = new RegistryError('BLOB_UPLOAD_INVALID', detail);
  cutOff.add(err);
  return err;
}

/** Pauses between attempts to take a lease another request holds: about a second in all. */
const LEASE_WAITS_MS = [5, 10, 20, 40, 80, 160, 320, 400];

/**
 * Takes the session's lease. When another request holds it, asks the holder to
 * give it back if it is only keeping it (src/registry/push/kept-leases.ts) and tries
 * again for a while before answering that someone else is writing.
 */
async function takeLease(ctx: RegistryContext, name: RepoName, id: string, token: string, seconds: number): Promise<sessions.SessionRow> {
  for (let attempt = 0; ; attempt++) {
    const row = isUuid(id) ? await sessions.acquireLeaseByName(ctx.pool, id, name, token, seconds, ctx.leases.holder) : null;
    if (row) return row;
    await findRow(ctx, name, id); // unknown: throws BLOB_UPLOAD_UNKNOWN
    const wait = LEASE_WAITS_MS[attempt];
    if (wait === undefined) {
      // A live writer (a writer whose process died loses its lease at once):
      // the client's offset is not wrong, so no 416; it may retry when the lease ends.
      const left = await sessions.leaseSecondsLeft(ctx.pool, id);
      throw new RegistryError('UNAVAILABLE', 'another request is writing to this upload session', { 'Retry-After': String(Math.max(1, left)) });
    }
    if (attempt === 0) await askForLease(ctx.pool, id).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/** A session's lease while a request writes, and the row as the lease was taken. */
export interface Lease {
  row: sessions.SessionRow;
  token: string;
  seconds: number;
  /** Aborted when the lease is lost, or when renewals have failed for half its length. */
  lost: AbortSignal;
}

/**
 * Holds a session's lease for the duration of `fn`, renewing it while bytes flow.
 * A lease this process kept after the session's previous chunk is taken over
 * without a round trip. `fn` must end or keep the lease when it succeeds; when it
 * throws, the lease is released here.
 *
 * The signal `lost` is aborted when the lease is lost (another request took it
 * after it expired) or when renewals have failed for half its length (the
 * database is out of reach), so a writer stops before anyone else may start
 * writing the same staged bytes.
 */
export async function withLease<T>(ctx: RegistryContext, name: RepoName, id: string, fn: (lease: Lease) => Promise<T>): Promise<T> {
  const seconds = ctx.options.uploadLeaseSeconds ?? sessions.LEASE_SECONDS;
  const kept = ctx.leases.take(id, name);
  const token = kept?.token ?? randomUUID();
  let confirmed = kept?.confirmedAt ?? Date.now();
  const row = kept?.row ?? (await takeLease(ctx, name, id, token, seconds));
  const lost = new AbortController();
  const unregister = ctx.leases.writing(lost);
  const renew = setInterval(() => {
    const sent = Date.now();
    sessions.renewLease(ctx.pool, id, token, seconds).then(
      (held) => {
        if (held) confirmed = sent;
        else lost.abort(new RegistryError('UNAVAILABLE', 'this upload session was taken over by another request; check its offset and retry'));
      },
      () => {
        if (Date.now() - confirmed > (seconds * 1000) / 2) lost.abort(new RegistryError('UNAVAILABLE', 'the database has not confirmed this upload session\'s lease in time; retry'));
      },
    );
  }, (seconds * 1000) / 4);
  try {
    // On success fn has kept the lease (commitAppend) or ended it (a finished
    // upload deletes the row): no release round trip before the response.
    return await fn({ row, token, seconds, lost: lost.signal });
  } catch (err) {
    // The one place a failed or cut-off request gives its session back.
    const interrupted = err instanceof RegistryError && cutOff.has(err);
    await sessions.releaseLease(ctx.pool, id, token, interrupted).catch(() => undefined); // unreleased, it expires
    throw err;
  } finally {
    clearInterval(renew);
    unregister();
  }
}
