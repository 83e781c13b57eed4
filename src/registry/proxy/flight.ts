// Single-flight of upstream fetches through PostgreSQL (docs/proxy.md,
// "Single-flight"), on one replica as across replicas: the pull that inserts the
// fetch's row (src/db/proxy-fetches.ts) asks the upstream; every other pull of the
// same key waits for that row to go (or follows the staged bytes, follow.ts), then
// serves from the cache. The fetching pull beats a heartbeat outside any
// transaction; when its process dies (its holder lock goes) or hangs, the next
// pull takes the fetch over.
import { randomUUID } from 'node:crypto';
import { beatFetch, claimFetch, endFetch, failFetch, findFetch, type FetchFailure, type FetchKind, type FetchRow } from '../../db/proxy-fetches.ts';
import { RegistryError, type ErrorCode } from '../../errors/codes.ts';
import type { RegistryContext } from '../context.ts';
import type { Proxy } from './proxy.ts';

const HEARTBEAT_MS = 1000;
/** How often a waiter looks at the row when no signal came (NOTIFY may be lost with its connection). */
export const POLL_MS = 250;
/** How long a failed fetch's error is kept for its waiters. */
const FAILURE_KEPT_MS = 2 * POLL_MS;
/** Claims a pull makes before it gives up: each fetch abandoned by its process lets a waiter try itself. */
export const MAX_ATTEMPTS = 3;

export interface Flight {
  kind: FetchKind;
  key: string;
  token: string;
  uploadId: string | null;
}

export interface Progress {
  received: number;
  size: number | null;
}

export const signalKey = (kind: FetchKind, key: string) => `${kind} ${key}`;

/** This pull becomes the fetch of `key` (a new row, or an abandoned one taken over); null when another fetch runs. */
export async function claim(ctx: RegistryContext, kind: FetchKind, key: string, repository: string, uploadId: string | null): Promise<Flight | null> {
  const token = randomUUID();
  const won = await claimFetch(ctx.pool, { kind, key, repository, token, holder: ctx.leases.holder, uploadId });
  return won ? { kind, key, token, uploadId } : null;
}

/**
 * Runs the fetch: the heartbeat (with its progress) every second; once it
 * committed the row is deleted, once it failed the row carries its error for a
 * moment; either way every waiter is told at once.
 */
export async function fly<T>(ctx: RegistryContext, flight: Flight, progress: () => Progress, work: (beat: () => void) => Promise<T>): Promise<T> {
  let beating: Promise<unknown> = Promise.resolve();
  const beat = () => {
    const p = progress();
    beating = beatFetch(ctx.pool, flight.kind, flight.key, flight.token, { stored: p.received, size: p.size }).catch(() => false);
  };
  const timer = setInterval(beat, HEARTBEAT_MS);
  timer.unref();
  const { pool } = ctx;
  const ended = async (failure: FetchFailure | null) => {
    clearInterval(timer);
    await beating;
    if (failure) {
      await failFetch(pool, flight.kind, flight.key, flight.token, failure).catch(() => undefined);
      // the waiters read the error meanwhile; one that misses it finds no row and tries itself
      setTimeout(() => void endFetch(pool, flight.kind, flight.key, flight.token).catch(() => undefined), FAILURE_KEPT_MS).unref();
    } else {
      await endFetch(pool, flight.kind, flight.key, flight.token).catch(() => undefined);
    }
    proxyOf(ctx).signals.wake(signalKey(flight.kind, flight.key));
  };
  let result: T;
  try {
    result = await work(beat);
  } catch (err) {
    await ended(failureOf(err));
    throw err;
  }
  await ended(null);
  return result;
}

/** What the waiters of a failed fetch are told: the fetch's own error when it is the upstream's answer. */
function failureOf(err: unknown): FetchFailure {
  if (err instanceof RegistryError && PASSED_ON.has(err.code)) return { code: err.code, detail: err.detail ?? null, headers: err.headers };
  return { code: 'UNAVAILABLE', detail: `the upstream fetch failed: ${err instanceof Error ? err.message : String(err)}`, headers: {} };
}

const PASSED_ON = new Set<ErrorCode>(['BLOB_UNKNOWN', 'MANIFEST_UNKNOWN', 'DENIED', 'TOOMANYREQUESTS', 'UNAVAILABLE']);

function failureError(failure: FetchFailure): RegistryError {
  const code = PASSED_ON.has(failure.code as ErrorCode) ? (failure.code as ErrorCode) : 'UNAVAILABLE';
  return new RegistryError(code, failure.detail ?? undefined, failure.headers);
}

/**
 * Watches a fetch another pull runs. `look` is called with its row each time it
 * changes or a signal comes; the wait ends when the row is gone or abandoned
 * (null is then passed) or `look` says it is done. A fetch that failed gives
 * its error to its waiters (a 404 upstream is theirs too). Without progress (bytes
 * received by the fetch, or what `look` reports) for the upstream's timeout, the
 * waiting client gets an UNAVAILABLE error rather than hang.
 */
export async function watch(ctx: RegistryContext, kind: FetchKind, key: string, look: (row: FetchRow | null) => Promise<{ done: boolean; moved: boolean }>, pollMs = POLL_MS): Promise<void> {
  const proxy = proxyOf(ctx);
  // the fetch itself gives up after the timeout: a little longer here, so its own error comes first
  const timeoutMs = proxy.options.timeoutMs + 2 * HEARTBEAT_MS;
  let lastReceived = -1;
  let lastProgress = Date.now();
  let lastVacancyCheck = 0;
  for (;;) {
    const checkVacant = Date.now() - lastVacancyCheck >= HEARTBEAT_MS;
    if (checkVacant) lastVacancyCheck = Date.now();
    const found = await findFetch(ctx.pool, kind, key, checkVacant);
    if (found?.failure) throw failureError(found.failure);
    const row = found && !found.vacant ? found : null;
    const seen = await look(row);
    if (seen.done || row === null) return;
    if (seen.moved || row.stored !== lastReceived) lastProgress = Date.now();
    lastReceived = row.stored;
    if (Date.now() - lastProgress > timeoutMs) {
      throw new RegistryError('UNAVAILABLE', `the upstream fetch of ${key} that this pull waits for made no progress for ${timeoutMs} ms`);
    }
    await proxy.signals.wait(signalKey(kind, key), pollMs);
  }
}

/**
 * The generic single-flight: `work` runs as the one fetch of `key`, or this pull
 * waits for the fetch that runs and then asks `settled` for its result, given
 * the last row it saw of that fetch (null when it ended before the first look).
 * Null from `settled`: that fetch failed, so this pull tries to fetch itself.
 */
export async function singleFlight<T>(ctx: RegistryContext, kind: FetchKind, key: string, repository: string, work: () => Promise<T>, settled: (watched: FetchRow | null) => Promise<T | null>): Promise<T> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const flight = await claim(ctx, kind, key, repository, null);
    if (flight) return fly(ctx, flight, () => ({ received: 0, size: null }), () => work());
    let watched: FetchRow | null = null;
    await watch(ctx, kind, key, async (row) => {
      watched = row ?? watched;
      return { done: false, moved: false };
    });
    const result = await settled(watched);
    if (result !== null) return result;
  }
  throw new RegistryError('UNAVAILABLE', `the upstream fetches of ${key} kept failing`);
}

function proxyOf(ctx: RegistryContext): Proxy {
  if (!ctx.proxy) throw new RegistryError('UNKNOWN', 'no pull-through cache is configured');
  return ctx.proxy;
}
