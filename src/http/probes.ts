// Liveness and readiness, for load balancers and orchestrators. No auth, and
// their access lines are debug (src/http/access-log.ts): they are asked often.
//  - /healthz: 200 while the process serves HTTP at all.
//  - /readyz: 200 when PostgreSQL and the storage both answer within a short
//    timeout, else 503 with the reason of each check, so a replica whose database
//    is gone is taken out of rotation until it is back.
import { Router } from 'express';
import type { DatabasePool } from 'slonik';
import { pingDatabase, pingStorage } from '../registry/health.ts';
import type { BlobStore } from '../storage/blob-store.ts';

const CHECK_TIMEOUT_MS = 2000;

export interface ReadinessDeps {
  pool: DatabasePool;
  store: BlobStore;
}

export function probesRouter(deps: ReadinessDeps): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const [database, storage] = await Promise.all([
      check(() => pingDatabase(deps.pool)),
      check(() => pingStorage(deps.store)),
    ]);
    const ready = database === 'ok' && storage === 'ok';
    res.setHeader('Cache-Control', 'no-store');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks: { database, storage } });
  });
  return router;
}

/** 'ok', or why not: the error's message, or that it did not answer in time. */
async function check(run: () => Promise<unknown>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const attempt = run();
  attempt.catch(() => undefined); // still pending when the timeout wins
  try {
    await Promise.race([
      attempt,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return 'ok';
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    clearTimeout(timer);
  }
}
