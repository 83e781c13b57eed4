// Result bookkeeping: named checks, setup steps with dependencies, pass/fail/skip.
import type { RegistryClient } from './http.ts';

export type WorkflowName = 'pull' | 'push' | 'discovery' | 'management' | 'referrers' | 'tags' | 'digests' | 'sparse';
export const WORKFLOWS: readonly WorkflowName[] = ['pull', 'push', 'discovery', 'referrers', 'management', 'tags', 'digests', 'sparse'];

export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  workflow: WorkflowName;
  name: string;
  status: CheckStatus;
  detail?: string;
}

/** Thrown by a check to report a failure with an explanation. */
export class CheckFailure extends Error {
  override name = 'CheckFailure';
}

/** Thrown by a check to report it as skipped (e.g. an optional feature is absent). */
export class CheckSkip extends Error {
  override name = 'CheckSkip';
}

/** Outcome of a check, usable as a dependency of later checks. */
export interface Step<T> {
  readonly name: string;
  readonly ok: boolean;
  readonly value: T | undefined;
  /** Why the step did not succeed (its failure or skip detail). */
  readonly reason?: string;
}

/** The value of a step that must have succeeded (for use inside dependent checks). */
export function valueOf<T>(step: Step<T>): T {
  if (!step.ok || step.value === undefined) {
    throw new CheckFailure(`internal: step "${step.name}" has no value`);
  }
  return step.value;
}

function shorten(text: string): string {
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

export interface WorkflowContextOptions {
  workflow: WorkflowName;
  client: RegistryClient;
  namespace: string;
  crossmountNamespace: string;
  /** The registry is declared to accept sparse manifests (OCI_SPARSE). */
  sparse?: boolean;
  sink: (result: CheckResult) => void;
}

export class WorkflowContext {
  readonly workflow: WorkflowName;
  readonly client: RegistryClient;
  readonly namespace: string;
  readonly crossmountNamespace: string;
  readonly sparse: boolean;
  private readonly sink: (result: CheckResult) => void;
  private readonly observedStart: number;

  constructor(options: WorkflowContextOptions) {
    this.workflow = options.workflow;
    this.client = options.client;
    this.namespace = options.namespace;
    this.crossmountNamespace = options.crossmountNamespace;
    this.sparse = options.sparse === true;
    this.sink = options.sink;
    this.observedStart = options.client.observed.length;
  }

  record(name: string, status: CheckStatus, detail?: string): void {
    const result: CheckResult = { workflow: this.workflow, name, status };
    if (detail !== undefined && detail !== '') result.detail = detail;
    this.sink(result);
  }

  /**
   * Runs one named check. If any dependency did not succeed the check is
   * skipped with the reason; a thrown CheckSkip skips it; any other throw fails it.
   */
  async check<T>(name: string, fn: () => Promise<T>, needs: readonly Step<unknown>[] = []): Promise<Step<T>> {
    const missing = needs.filter((s) => !s.ok);
    if (missing.length > 0) {
      const names = missing.map((s) => `"${s.name}"`).join(', ');
      const first = missing[0]?.reason;
      const reason = `depends on ${names}, which did not succeed${first !== undefined ? ` (${first})` : ''}`;
      this.record(name, 'skip', reason);
      return { name, ok: false, value: undefined, reason: missing[0]?.reason ?? 'skipped' };
    }
    try {
      const value = await fn();
      this.record(name, 'pass');
      return { name, ok: true, value };
    } catch (err) {
      let status: CheckStatus = 'fail';
      let detail: string;
      if (err instanceof CheckSkip) {
        status = 'skip';
        detail = err.message;
      } else if (err instanceof CheckFailure) {
        detail = err.message;
      } else {
        detail = `unexpected error: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
      }
      this.record(name, status, detail);
      return { name, ok: false, value: undefined, reason: `${status === 'skip' ? 'skipped' : 'failed'}: ${shorten(detail)}` };
    }
  }

  /** Records a skip without running anything. */
  skip(name: string, reason: string): Step<never> {
    this.record(name, 'skip', reason);
    return { name, ok: false, value: undefined, reason: `skipped: ${shorten(reason)}` };
  }

  /**
   * Final check of a workflow: every /v2 response seen during it carried
   * `Docker-Distribution-API-Version: registry/2.0`.
   */
  async checkApiVersionHeaders(): Promise<void> {
    const seen = this.client.observed.slice(this.observedStart);
    await this.check('Docker-Distribution-API-Version: registry/2.0 on every /v2 response', async () => {
      if (seen.length === 0) throw new CheckSkip('no /v2 responses were observed');
      const bad = seen.filter((o) => o.apiVersion !== 'registry/2.0');
      if (bad.length > 0) {
        const first = bad
          .slice(0, 3)
          .map((o) => `${o.method} ${new URL(o.url).pathname} -> ${o.status} had ${JSON.stringify(o.apiVersion)}`)
          .join('; ');
        throw new CheckFailure(`${bad.length} of ${seen.length} responses lacked it (e.g. ${first})`);
      }
    });
  }
}
