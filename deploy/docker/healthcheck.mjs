// The image's HEALTHCHECK: exit 0 when GET /healthz answers 200, else 1.
// /healthz is served where Bollard puts it: on BOLLARD_METRICS_LISTEN (plain
// HTTP) when that is set, else on BOLLARD_LISTEN, over HTTPS when
// BOLLARD_TLS_CERT_FILE is set. The certificate is not checked: this asks the
// process in this container whether it is alive, not who it is.
// Plain JavaScript with no imports beyond node:, so it costs little per run.
import http from 'node:http';
import https from 'node:https';

const env = process.env;
const metrics = env.BOLLARD_METRICS_LISTEN?.trim() || '';
const address = metrics || env.BOLLARD_LISTEN?.trim() || '127.0.0.1:5000';
const tls = !metrics && Boolean(env.BOLLARD_TLS_CERT_FILE?.trim());

const idx = address.lastIndexOf(':');
let host = address.slice(0, idx).replace(/^\[|\]$/g, '');
const port = Number(address.slice(idx + 1));
// a wildcard address is reached on loopback
if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
if (host === '::') host = '::1';

const client = tls ? https : http;
const req = client.get(
  { host, port, path: '/healthz', timeout: 4000, rejectUnauthorized: false },
  (res) => {
    res.resume();
    process.exit(res.statusCode === 200 ? 0 : 1);
  },
);
req.on('timeout', () => req.destroy(new Error('timed out')));
req.on('error', (err) => {
  process.stderr.write(`healthcheck: ${err.message}\n`);
  process.exit(1);
});
