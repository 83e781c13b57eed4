// CLI: node conformance/run.ts <base-url>
// Env: OCI_NAMESPACE, OCI_CROSSMOUNT_NAMESPACE, OCI_USERNAME, OCI_PASSWORD,
//      OCI_SKIP_DELETE=1, OCI_SPARSE=1, OCI_ONLY=pull,push,discovery,referrers,management,tags,digests,sparse
import process from 'node:process';
import type { ConformanceOptions, WorkflowName } from './index.ts';
import { WORKFLOWS, formatResult, runConformance, summaryLine } from './index.ts';

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: node conformance/run.ts <registry-base-url>\n`);
  process.exit(2);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

async function main(): Promise<void> {
  const baseUrl = process.argv[2];
  if (baseUrl === undefined || baseUrl === '' || baseUrl === '-h' || baseUrl === '--help') usage('missing registry base URL');
  try {
    new URL(baseUrl);
  } catch {
    usage(`not a URL: ${baseUrl}`);
  }
  const env = process.env;
  const options: ConformanceOptions = {
    baseUrl,
    onResult: (r) => process.stdout.write(`${formatResult(r)}\n`),
  };
  const ns = nonEmpty(env['OCI_NAMESPACE']);
  if (ns !== undefined) options.namespace = ns;
  const cross = nonEmpty(env['OCI_CROSSMOUNT_NAMESPACE']);
  if (cross !== undefined) options.crossmountNamespace = cross;
  const user = nonEmpty(env['OCI_USERNAME']);
  if (user !== undefined) options.username = user;
  const pass = env['OCI_PASSWORD'];
  if (pass !== undefined && pass !== '') options.password = pass;
  const skipDelete = nonEmpty(env['OCI_SKIP_DELETE']);
  options.skipDelete = skipDelete !== undefined && !['0', 'false', 'no'].includes(skipDelete.toLowerCase());
  const sparse = nonEmpty(env['OCI_SPARSE']);
  options.sparse = sparse !== undefined && !['0', 'false', 'no'].includes(sparse.toLowerCase());
  const only = nonEmpty(env['OCI_ONLY']);
  if (only !== undefined) {
    const names = only.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const unknown = names.filter((n) => !(WORKFLOWS as readonly string[]).includes(n));
    if (unknown.length > 0) usage(`OCI_ONLY: unknown workflow(s) ${unknown.join(', ')}; known: ${WORKFLOWS.join(', ')}`);
    options.only = names as WorkflowName[];
  }

  const report = await runConformance(options);
  process.stdout.write(`namespace: ${report.namespace} (cross-mount: ${report.crossmountNamespace})\n`);
  process.stdout.write(`${summaryLine(report)}\n`);
  process.exitCode = report.failed > 0 ? 1 : 0;
}

main().catch((err: unknown) => {
  process.stderr.write(`conformance: crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
