// Public API of the conformance suite: runConformance() runs the selected workflows.
import type { CheckResult, WorkflowName } from './context.ts';
import { WORKFLOWS, WorkflowContext } from './context.ts';
import { randomHex } from './fixtures.ts';
import { RegistryClient } from './http.ts';
import { runDiscovery } from './discovery.ts';
import { runManagement } from './management.ts';
import { runPull } from './pull.ts';
import { runPush } from './push.ts';
import { runReferrers } from './referrers.ts';
import { runDigests } from './digests.ts';
import { runSparse } from './sparse.ts';
import { runTags } from './tags.ts';

export type { CheckResult, CheckStatus, WorkflowName } from './context.ts';
export { WORKFLOWS } from './context.ts';

export interface ConformanceOptions {
  /** Registry base URL, e.g. `http://127.0.0.1:5000` (the suite appends `/v2/...`). */
  baseUrl: string;
  /** Repository used by the tests; default `conformance/test-<random>`. */
  namespace?: string;
  /** Target repository for cross-repository mounts; default `conformance/crossmount-<random>`. */
  crossmountNamespace?: string;
  /** Credentials for Basic auth or for fetching Bearer tokens from the challenge realm. */
  username?: string;
  password?: string;
  /** Skip the content-management (delete) workflow. */
  skipDelete?: boolean;
  /**
   * The registry accepts sparse manifests (spec: it MAY accept descriptors naming content it
   * lacks); without this the sparse workflow is skipped.
   */
  sparse?: boolean;
  /** Workflows to run (default: all, in the order of WORKFLOWS). */
  only?: readonly WorkflowName[];
  /** Per-request timeout in milliseconds (default 30000). */
  timeoutMs?: number;
  /** Called as each check finishes (for streaming output). */
  onResult?: (result: CheckResult) => void;
}

export interface ConformanceReport {
  results: CheckResult[];
  passed: number;
  failed: number;
  skipped: number;
  namespace: string;
  crossmountNamespace: string;
}

const RUNNERS: Record<WorkflowName, (ctx: WorkflowContext) => Promise<void>> = {
  pull: runPull,
  push: runPush,
  discovery: runDiscovery,
  referrers: runReferrers,
  management: runManagement,
  tags: runTags,
  digests: runDigests,
  sparse: runSparse,
};

/** One human-readable line for a result. */
export function formatResult(r: CheckResult): string {
  const tag = r.status === 'pass' ? 'PASS' : r.status === 'fail' ? 'FAIL' : 'SKIP';
  return `${tag} [${r.workflow}] ${r.name}${r.detail !== undefined ? ` -- ${r.detail}` : ''}`;
}

/** The closing line: `conformance: N passed, M failed, K skipped`. */
export function summaryLine(report: ConformanceReport): string {
  return `conformance: ${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped`;
}

export async function runConformance(options: ConformanceOptions): Promise<ConformanceReport> {
  const namespace = options.namespace ?? `conformance/test-${randomHex(5)}`;
  const crossmountNamespace = options.crossmountNamespace ?? `conformance/crossmount-${randomHex(5)}`;
  const clientOptions: ConstructorParameters<typeof RegistryClient>[0] = { baseUrl: options.baseUrl };
  if (options.username !== undefined) clientOptions.username = options.username;
  if (options.password !== undefined) clientOptions.password = options.password;
  if (options.timeoutMs !== undefined) clientOptions.timeoutMs = options.timeoutMs;
  const client = new RegistryClient(clientOptions);
  const selected = new Set(options.only ?? WORKFLOWS);
  const report: ConformanceReport = { results: [], passed: 0, failed: 0, skipped: 0, namespace, crossmountNamespace };

  const sink = (r: CheckResult): void => {
    report.results.push(r);
    if (r.status === 'pass') report.passed++;
    else if (r.status === 'fail') report.failed++;
    else report.skipped++;
    options.onResult?.(r);
  };

  // Preflight: if nothing answers at all, say so once instead of failing every check.
  try {
    await client.request('GET', '/v2/');
  } catch (err) {
    const first = WORKFLOWS.find((w) => selected.has(w)) ?? 'pull';
    const ctx = new WorkflowContext({ workflow: first, client, namespace, crossmountNamespace, sink });
    ctx.record(`registry reachable at ${client.url('/v2/')}`, 'fail', err instanceof Error ? err.message : String(err));
    return report;
  }

  for (const workflow of WORKFLOWS) {
    if (!selected.has(workflow)) continue;
    const ctx = new WorkflowContext({ workflow, client, namespace, crossmountNamespace, sparse: options.sparse === true, sink });
    if (workflow === 'management' && options.skipDelete === true) {
      ctx.skip('content management workflow', 'disabled by OCI_SKIP_DELETE / skipDelete');
      continue;
    }
    if (workflow === 'sparse' && options.sparse !== true) {
      ctx.skip('sparse manifests workflow', 'not enabled: set OCI_SPARSE=1 / sparse when the registry accepts sparse manifests');
      continue;
    }
    try {
      await RUNNERS[workflow](ctx);
    } catch (err) {
      // Checks catch their own errors; this only guards against bugs in a workflow body.
      const msg = err instanceof Error ? (err.stack ?? err.message) : String(err);
      ctx.record('workflow completed without crashing', 'fail', msg);
    }
  }
  return report;
}
