// The signature of webhook requests (documented in README.md, "Webhooks"):
//   Bollard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
// The timestamp is signed with the body so a captured request cannot be replayed
// later with a fresh timestamp; receivers reject old ones.
import { createHmac } from 'node:crypto';

export const SIGNATURE_HEADER = 'Bollard-Signature';

export function signatureHeader(secret: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}
