// A strict reader of the Prometheus text exposition format (0.0.4), enough to
// check that every line /metrics sends is one a scraper accepts, and to read values.
import { expect } from 'vitest';

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
const VALUE = '(?:[-+]?(?:[0-9]*\\.?[0-9]+(?:[eE][-+]?[0-9]+)?)|[-+]?[Ii]nf|[Nn]a[Nn])'; // Prometheus reads them in any case; prom-client writes Nan
const SAMPLE = new RegExp(`^(${NAME})(\\{(?:${LABEL}(?:,${LABEL})*,?)?\\})? (${VALUE})(?: -?[0-9]+)?$`);
const HELP = new RegExp(`^# HELP ${NAME} .*$`);
const TYPE = new RegExp(`^# TYPE ${NAME} (counter|gauge|histogram|summary|untyped)$`);

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every sample of the body; fails the test on a line that is not valid exposition text. */
export function parseMetrics(body: string): Sample[] {
  const samples: Sample[] = [];
  const bad: string[] = [];
  for (const line of body.split('\n')) {
    if (line === '' || HELP.test(line) || TYPE.test(line)) continue;
    const m = SAMPLE.exec(line);
    if (!m) {
      bad.push(line);
      continue;
    }
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  expect(bad, 'lines that are not Prometheus text').toEqual([]);
  return samples;
}

/** The sum of the samples of a metric whose labels include these. */
export function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Whether the body declares a metric of this name and type. */
export function declares(body: string, name: string, type: string): boolean {
  return body.split('\n').includes(`# TYPE ${name} ${type}`);
}
