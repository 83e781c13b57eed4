// Honest clients running beside the faults: every one of their transfers must complete.
import { createHash, randomBytes } from 'node:crypto';
import { pathOf } from './raw.ts';

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

export interface Traffic {
  /** Stops the loop and resolves with what was done; throws the first failure. */
  stop(): Promise<{ pushes: number; pulls: number }>;
}

/** Pushes (monolithic and in two chunks) and pulls back 1 MiB blobs until stopped. */
export function honestTraffic(url: string, repo: string): Traffic {
  let stopped = false;
  const done = { pushes: 0, pulls: 0 };
  const run = (async () => {
    for (let i = 0; !stopped; i++) {
      const data = randomBytes(1024 * 1024);
      const digest = sha256(data);
      if (i % 2 === 0) {
        let r = await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data });
        if (r.status === 202) {
          // a registry without single-request pushes opened a session: the spec's POST then PUT
          const loc = pathOf(r.headers.get('location') as string);
          r = await fetch(`${url}${loc}${loc.includes('?') ? '&' : '?'}digest=${digest}`, { method: 'PUT', body: data });
        }
        if (r.status !== 201) throw new Error(`honest monolithic push: ${r.status} ${await r.text()}`);
      } else {
        const open = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
        let loc = pathOf(open.headers.get('location') as string);
        const half = data.length / 2;
        const p = await fetch(`${url}${loc}`, { method: 'PATCH', body: data.subarray(0, half), headers: { 'Content-Range': `0-${half - 1}` } });
        if (p.status !== 202) throw new Error(`honest chunk: ${p.status} ${await p.text()}`);
        loc = pathOf(p.headers.get('location') as string);
        const put = await fetch(`${url}${loc}${loc.includes('?') ? '&' : '?'}digest=${digest}`, { method: 'PUT', body: data.subarray(half), headers: { 'Content-Range': `${half}-${data.length - 1}` } });
        if (put.status !== 201) throw new Error(`honest final chunk: ${put.status} ${await put.text()}`);
      }
      done.pushes += 1;
      const got = Buffer.from(await (await fetch(`${url}/v2/${repo}/blobs/${digest}`)).arrayBuffer());
      if (sha256(got) !== digest) throw new Error(`honest pull of ${digest} returned other bytes (${got.length})`);
      done.pulls += 1;
    }
  })();
  run.catch(() => undefined); // reported by stop()
  return {
    stop: async () => {
      stopped = true;
      await run;
      return done;
    },
  };
}
