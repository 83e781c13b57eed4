// The packaging in deploy/ and the Dockerfile against the code, without a container
// engine (none can build or run here): the files parse, every BOLLARD_* variable
// they or docs/operations.md name is one Bollard reads, probes and the image's
// HEALTHCHECK ask /healthz and /readyz on the port that serves them, ports agree
// between image, compose, HAProxy and Kubernetes, and the Grafana dashboard queries
// only the metrics Bollard exports, with their labels. The healthcheck script is run
// against real HTTP and HTTPS servers.
import { execFile } from 'node:child_process';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { z } from 'zod';

const ROOT = join(import.meta.dirname, '..', '..');
const DEPLOY = join(ROOT, 'deploy');
const run = promisify(execFile);

/** The environment variables Bollard reads: every setting's variable in the one schema, and the file's own. */
async function variablesBollardReads(): Promise<Set<string>> {
  const { settings } = await import('../../src/config/settings.ts');
  const names = new Set<string>(['BOLLARD_CONFIG']);
  for (const s of settings()) if (s.env) names.add(s.env);
  return names;
}

const text = (path: string) => readFile(join(ROOT, path), 'utf8');

/** Every file under deploy/, relative to the root. */
async function deployFiles(): Promise<string[]> {
  const all = await readdir(DEPLOY, { recursive: true, withFileTypes: true });
  return all.filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name).slice(ROOT.length + 1));
}

function portOf(listen: string): number {
  return Number(listen.slice(listen.lastIndexOf(':') + 1));
}

// ---- Dockerfile

interface Instruction {
  op: string;
  args: string;
}

/** The Dockerfile's instructions, continuation lines joined and comments dropped, per stage. */
function dockerStages(src: string): Instruction[][] {
  const lines: string[] = [];
  let pending = '';
  for (const raw of src.split('\n')) {
    if (/^\s*#/.test(raw)) continue;
    const line = raw.replace(/\s+$/, '');
    if (line.endsWith('\\')) pending += `${line.slice(0, -1)} `;
    else if (pending || line.trim()) {
      lines.push((pending + line).trim());
      pending = '';
    }
  }
  const stages: Instruction[][] = [];
  for (const line of lines) {
    const m = /^(\w+)\s+(.*)$/s.exec(line);
    if (!m) continue;
    const ins = { op: (m[1] as string).toUpperCase(), args: m[2] as string };
    if (ins.op === 'FROM') stages.push([]);
    stages.at(-1)?.push(ins);
  }
  return stages;
}

function envOf(stage: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of stage.filter((s) => s.op === 'ENV')) for (const m of i.args.matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)) env[m[1] as string] = m[2] as string;
  return env;
}

// ---- the metrics Bollard exports (the names its metrics module implements)

type Metric = { type: 'counter' | 'gauge' | 'histogram'; labels: string[] };
const METRICS: Record<string, Metric> = {
  bollard_http_requests_total: { type: 'counter', labels: ['method', 'route', 'status'] },
  bollard_http_request_duration_seconds: { type: 'histogram', labels: ['method', 'route'] },
  bollard_http_request_bytes_total: { type: 'counter', labels: ['route'] },
  bollard_http_response_bytes_total: { type: 'counter', labels: ['route'] },
  bollard_upload_sessions_open: { type: 'gauge', labels: [] },
  bollard_db_pool_connections: { type: 'gauge', labels: ['state'] },
  bollard_db_pool_waiting: { type: 'gauge', labels: [] },
  bollard_storage_operation_duration_seconds: { type: 'histogram', labels: ['driver', 'operation'] },
  bollard_storage_operation_errors_total: { type: 'counter', labels: ['driver', 'operation'] },
  bollard_gc_runs_total: { type: 'counter', labels: ['outcome'] },
  bollard_gc_blobs_deleted_total: { type: 'counter', labels: [] },
  bollard_gc_bytes_deleted_total: { type: 'counter', labels: [] },
  bollard_upload_sweep_runs_total: { type: 'counter', labels: [] },
  bollard_retention_runs_total: { type: 'counter', labels: ['outcome'] },
  bollard_retention_manifests_deleted_total: { type: 'counter', labels: [] },
  bollard_scrub_runs_total: { type: 'counter', labels: ['outcome'] },
  bollard_scrub_problems_total: { type: 'counter', labels: [] },
  bollard_webhook_deliveries_total: { type: 'counter', labels: ['outcome'] },
  bollard_webhook_backlog: { type: 'gauge', labels: [] },
  // prom-client's default metrics
  process_cpu_seconds_total: { type: 'counter', labels: [] },
  process_resident_memory_bytes: { type: 'gauge', labels: [] },
  nodejs_eventloop_lag_seconds: { type: 'gauge', labels: [] },
  nodejs_heap_size_used_bytes: { type: 'gauge', labels: [] },
};
/** Labels Prometheus adds to every series it scrapes. */
const TARGET_LABELS = ['instance', 'job'];

/** The metric a series name belongs to: a histogram's _bucket, _sum and _count are its own. */
function metricOf(series: string): { name: string; metric: Metric | undefined; bucket: boolean } {
  const m = /^(.*)_(bucket|sum|count)$/.exec(series);
  if (m && METRICS[m[1] as string]?.type === 'histogram') return { name: m[1] as string, metric: METRICS[m[1] as string], bucket: m[2] === 'bucket' };
  return { name: series, metric: METRICS[series], bucket: false };
}

/** Problems of one PromQL expression: unknown series, labels a series does not carry. */
function checkExpr(expr: string): string[] {
  const problems: string[] = [];
  const used: { name: string; metric: Metric | undefined; bucket: boolean }[] = [];
  for (const m of expr.matchAll(/\b((?:bollard|process|nodejs)_[a-z0-9_]+)\b/g)) {
    const s = metricOf(m[1] as string);
    used.push(s);
    if (!s.metric) problems.push(`unknown series ${m[1]}`);
  }
  const known = used.filter((u) => u.metric);
  if (known.length === 0) return problems.length ? problems : [`no metric in ${expr}`];
  const allowed = (u: (typeof known)[number]) => new Set([...(u.metric as Metric).labels, ...TARGET_LABELS, ...(u.bucket ? ['le'] : [])]);
  // a label in a selector belongs to the series right before it
  for (const m of expr.matchAll(/\b((?:bollard|process|nodejs)_[a-z0-9_]+)\{([^}]*)\}/g)) {
    const s = metricOf(m[1] as string);
    if (!s.metric) continue;
    for (const l of (m[2] as string).matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)) {
      if (!allowed(s).has(l[1] as string)) problems.push(`${m[1]} has no label ${l[1]}`);
    }
  }
  // a grouping label must be carried by some series of the expression
  for (const m of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    for (const l of (m[1] as string).split(',').map((x) => x.trim()).filter(Boolean)) {
      if (!known.some((u) => allowed(u).has(l))) problems.push(`no series of "${expr}" has label ${l}`);
    }
  }
  return problems;
}

describe('deploy/ and the Dockerfile against the code', () => {
  let reads: Set<string>;
  let compose: any;
  let k8s: any[];
  let dockerfile: Instruction[][];
  beforeAll(async () => {
    reads = await variablesBollardReads();
    compose = parse(await text('deploy/compose.yaml'), { merge: true });
    k8s = [];
    for (const f of (await deployFiles()).filter((f) => f.startsWith('deploy/kubernetes/') && f.endsWith('.yaml'))) {
      for (const doc of parseAllDocuments(await text(f))) {
        expect(doc.errors, f).toEqual([]);
        k8s.push(doc.toJS());
      }
    }
    dockerfile = dockerStages(await text('Dockerfile'));
  });
  const kind = (k: string) => k8s.filter((d) => d?.kind === k);

  test('the helper finds the configuration schemas', () => {
    for (const v of ['BOLLARD_LISTEN', 'DATABASE_URL', 'BOLLARD_DATA_DIR', 'BOLLARD_S3_BUCKET', 'BOLLARD_AUTH', 'BOLLARD_GC']) expect(reads.has(v), v).toBe(true);
  });

  test('every BOLLARD_* and DATABASE_URL named in deploy/, the Dockerfile and docs/operations.md is one Bollard reads', async () => {
    const files = [...(await deployFiles()), 'Dockerfile', 'docs/operations.md'];
    const unknown: string[] = [];
    for (const f of files) {
      for (const m of (await text(f)).matchAll(/\b(BOLLARD_[A-Z0-9_]*[A-Z0-9]|DATABASE_URL)\b/g)) {
        const name = m[1] as string;
        if (!reads.has(name)) unknown.push(`${f}: ${name}`);
      }
    }
    expect([...new Set(unknown)]).toEqual([]);
  });

  test('Dockerfile: multi-stage, one Node on debian slim, non-root, data dir a volume, HEALTHCHECK on /healthz, bollard on the PATH', async () => {
    expect(dockerfile.length).toBeGreaterThanOrEqual(2);
    const runtime = dockerfile.at(-1) as Instruction[];
    const from = runtime[0]?.args ?? '';
    expect(from, 'the runtime stage brings no Node of its own').not.toMatch(/\bnode\b/);
    expect(from).toMatch(/^debian:/);
    const runs = runtime.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
    expect(runs, 'no compilers in the runtime stage').not.toMatch(/\b(g\+\+|gcc|make|python3|build-essential)\b/);
    expect(runs).toMatch(/ln -s \/app\/node_modules\/node\/bin\/node \/usr\/local\/bin\/node/);
    expect(runs).toMatch(/ln -s \/app\/bin\/bollard\.js \/usr\/local\/bin\/bollard/);
    const copies = runtime.filter((i) => i.op === 'COPY');
    expect(copies.every((c) => c.args.startsWith('--from=build'))).toBe(true);

    const user = runtime.find((i) => i.op === 'USER')?.args ?? '';
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/); // numeric, so runAsNonRoot can verify it
    const env = envOf(runtime);
    expect(env.BOLLARD_LISTEN).toMatch(/^0\.0\.0\.0:\d+$/);
    const port = portOf(env.BOLLARD_LISTEN as string);
    expect(runtime.find((i) => i.op === 'EXPOSE')?.args).toBe(String(port));
    expect(runtime.find((i) => i.op === 'VOLUME')?.args).toContain(`"${env.BOLLARD_DATA_DIR}"`);

    const hc = runtime.find((i) => i.op === 'HEALTHCHECK')?.args ?? '';
    const script = /CMD \["node", "\/app\/(deploy\/docker\/healthcheck\.mjs)"\]/.exec(hc)?.[1];
    expect(script, hc).toBeDefined();
    expect(await text(script as string)).toContain("path: '/healthz'");
    expect(runtime.find((i) => i.op === 'ENTRYPOINT')?.args).toMatch(/"bollard"\]$/);

    // what the build stage copies is in the build context
    const ignore = (await text('.dockerignore')).split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    const build = dockerfile[0] as Instruction[];
    for (const c of build.filter((i) => i.op === 'COPY')) {
      for (const src of c.args.split(/\s+/).slice(0, -1)) {
        expect(ignore.some((p) => src === p || src.startsWith(`${p}/`)), `${src} is excluded by .dockerignore`).toBe(true);
        await expect(readFile(join(ROOT, src)).catch((e: NodeJS.ErrnoException) => (e.code === 'EISDIR' ? 'dir' : Promise.reject(e)))).resolves.toBeDefined();
      }
    }
  });

  test('compose: two replicas of the image behind HAProxy; ports, probes, TLS files, database and bucket agree', async () => {
    const services = compose.services as Record<string, any>;
    const replicas = Object.entries(services).filter(([, s]) => s.build?.dockerfile === 'Dockerfile');
    expect(replicas.map(([n]) => n)).toEqual(['bollard-1', 'bollard-2']);
    const haproxy = await text('deploy/compose/haproxy.cfg');
    for (const [name, s] of replicas) {
      const env = s.environment as Record<string, string>;
      const listen = portOf(env.BOLLARD_LISTEN as string);
      const health = portOf(env.BOLLARD_METRICS_LISTEN ?? (env.BOLLARD_LISTEN as string));
      expect(haproxy).toMatch(new RegExp(`server ${name} ${name}:${listen} `));
      expect(haproxy).toMatch(new RegExp(`check port ${health}\\b`));
      // the certificate and key are inside a mounted directory
      for (const file of [env.BOLLARD_TLS_CERT_FILE, env.BOLLARD_TLS_KEY_FILE]) {
        expect(file).toBeDefined();
        expect((s.volumes as string[]).some((v) => file?.startsWith(`${v.split(':')[1]}/`)), `${file} not mounted`).toBe(true);
      }
      expect(env.DATABASE_URL).toMatch(/@postgres:5432\/bollard$/);
      const s3 = new URL(env.BOLLARD_S3_ENDPOINT as string);
      expect(services[s3.hostname]?.command?.join(' ')).toContain(`-s3.port=${s3.port}`);
      expect(services['s3-bucket'].command.join(' ')).toContain(`--bucket ${env.BOLLARD_S3_BUCKET}`);
      expect(s.depends_on['s3-bucket'].condition).toBe('service_completed_successfully');
      expect(s.depends_on.postgres.condition).toBe('service_healthy');
      expect(s.read_only).toBe(true);
    }
    expect(haproxy).toMatch(/option httpchk GET \/readyz/);
    const bind = /bind :(\d+) ssl crt (\S+)/.exec(haproxy);
    expect(bind).not.toBeNull();
    expect(services.lb.ports).toContain(`${bind?.[1]}:${bind?.[1]}`);
    expect(services.postgres.environment.POSTGRES_DB).toBe('bollard');
  });

  test('kubernetes: probes on /healthz and /readyz at the port serving them, ports and names agree, non-root, read-only root', () => {
    const config = kind('ConfigMap')[0]?.data as Record<string, string>;
    const secret = kind('Secret')[0];
    expect(Object.keys(secret.stringData)).toEqual(expect.arrayContaining(['DATABASE_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']));
    const [deploy] = kind('Deployment');
    expect(deploy.spec.replicas).toBe(2);
    const pod = deploy.spec.template.spec;
    const [c] = pod.containers;
    expect(c.envFrom.map((e: any) => e.configMapRef?.name ?? e.secretRef?.name)).toEqual([kind('ConfigMap')[0].metadata.name, secret.metadata.name]);
    const ports = Object.fromEntries(c.ports.map((p: any) => [p.name, p.containerPort]));
    expect(ports.http).toBe(portOf(config.BOLLARD_LISTEN as string));
    const healthPort = portOf(config.BOLLARD_METRICS_LISTEN ?? (config.BOLLARD_LISTEN as string));
    const probe = (p: any) => ({ path: p.httpGet.path, port: typeof p.httpGet.port === 'string' ? ports[p.httpGet.port] : p.httpGet.port });
    expect(probe(c.livenessProbe)).toEqual({ path: '/healthz', port: healthPort });
    expect(probe(c.startupProbe)).toEqual({ path: '/healthz', port: healthPort });
    expect(probe(c.readinessProbe)).toEqual({ path: '/readyz', port: healthPort });
    expect(c.resources.requests).toBeDefined();
    expect(c.resources.limits.memory).toBeDefined();

    const user = (dockerfile.at(-1) as Instruction[]).find((i) => i.op === 'USER')?.args.split(':')[0];
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(String(pod.securityContext.runAsUser)).toBe(user);
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(c.volumeMounts.map((m: any) => m.mountPath)).toContain('/tmp');

    const [svc] = kind('Service');
    const labels = deploy.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(svc.spec.selector)) expect(labels[k]).toBe(v);
    for (const p of svc.spec.ports) expect(Object.keys(ports)).toContain(p.targetPort);
    const [pdb] = kind('PodDisruptionBudget');
    expect(pdb.spec.selector.matchLabels).toEqual(deploy.spec.selector.matchLabels);
  });

  test('the Grafana dashboard queries only the metrics Bollard exports, with their labels, and shows each of them', async () => {
    const dash = JSON.parse(await text('deploy/grafana/bollard-dashboard.json'));
    const exprs: string[] = [];
    const walk = (panels: any[]) => {
      for (const p of panels) {
        for (const t of p.targets ?? []) exprs.push(t.expr);
        walk(p.panels ?? []);
      }
    };
    walk(dash.panels);
    expect(exprs.length).toBeGreaterThan(10);
    expect(exprs.flatMap(checkExpr)).toEqual([]);
    const shown = new Set(exprs.flatMap((e) => [...e.matchAll(/\b((?:bollard|process|nodejs)_[a-z0-9_]+)/g)].map((m) => metricOf(m[1] as string).name)));
    expect(Object.keys(METRICS).filter((m) => !shown.has(m))).toEqual([]);
    // the checker itself catches what it is meant to catch
    expect(checkExpr('rate(bollard_http_requests_total{repo="x"}[5m])')).toHaveLength(1);
    expect(checkExpr('sum by (status) (rate(bollard_gc_runs_total[5m]))')).toHaveLength(1);
    expect(checkExpr('rate(bollard_nope_total[5m])')).toHaveLength(1);
    expect(checkExpr('bollard_upload_sessions_open_bucket')).toHaveLength(1);
  });
});

describe('deploy/docker/healthcheck.mjs, the image HEALTHCHECK', () => {
  const SCRIPT = join(DEPLOY, 'docker', 'healthcheck.mjs');
  let dir: string;
  const servers: Server[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bollard-hc-'));
  });
  afterAll(async () => {
    for (const s of servers) s.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A server answering /healthz with `status`; its port. */
  async function serve(status: number, tls?: { cert: Buffer; key: Buffer }): Promise<number> {
    const handler = (req: { url?: string }, res: { statusCode: number; end(b: string): void }) => {
      res.statusCode = req.url === '/healthz' ? status : 404;
      res.end('');
    };
    const s = tls ? createHttpsServer(tls, handler) : createHttpServer(handler);
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return (s.address() as AddressInfo).port;
  }

  /** The script's exit code, run with only `env` set. */
  async function check(env: Record<string, string>): Promise<number> {
    return run(process.execPath, [SCRIPT], { env, timeout: 15_000 }).then(
      () => 0,
      (e: { code?: number }) => e.code ?? -1,
    );
  }

  test('plain HTTP on BOLLARD_LISTEN, a wildcard host reached on loopback', async () => {
    expect(await check({ BOLLARD_LISTEN: `0.0.0.0:${await serve(200)}` })).toBe(0);
    expect(await check({ BOLLARD_LISTEN: `0.0.0.0:${await serve(503)}` })).toBe(1);
  });

  test('BOLLARD_METRICS_LISTEN wins over BOLLARD_LISTEN; nothing listening fails', async () => {
    const up = await serve(200);
    expect(await check({ BOLLARD_LISTEN: '127.0.0.1:1', BOLLARD_METRICS_LISTEN: `0.0.0.0:${up}`, BOLLARD_TLS_CERT_FILE: '/x' })).toBe(0);
    expect(await check({ BOLLARD_LISTEN: `127.0.0.1:${up}`, BOLLARD_METRICS_LISTEN: '127.0.0.1:1' })).toBe(1);
  });

  test('HTTPS when BOLLARD_TLS_CERT_FILE is set, with a self-signed certificate made by the documented openssl command', async () => {
    const key = join(dir, 'tls.key');
    const cert = join(dir, 'tls.crt');
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-sha256', '-days', '1', '-nodes', '-keyout', key, '-out', cert,
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:bollard-1,DNS:bollard-2']);
    const port = await serve(200, { cert: await readFile(cert), key: await readFile(key) });
    expect(await check({ BOLLARD_LISTEN: `0.0.0.0:${port}`, BOLLARD_TLS_CERT_FILE: cert })).toBe(0);
    expect(await check({ BOLLARD_LISTEN: `0.0.0.0:${port}` }), 'plain HTTP to an HTTPS port').toBe(1);
  });
});
