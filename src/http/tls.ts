// HTTPS: docker and podman refuse plain HTTP to anything but localhost, so a team
// registry needs it. The certificate and key are PEM files; a renewed pair (from
// certbot, cert-manager, an operator) is taken into use without a restart, on
// SIGHUP or when either file changes, by swapping the server's secure context:
// connections already open keep the certificate they were made with. A new pair
// that cannot be used (unreadable, half written, key and certificate not
// matching) is logged and the old one kept; a later change tries again.
import { X509Certificate } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Logger } from '../logger.ts';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface TlsPair {
  cert: Buffer;
  key: Buffer;
}

/** Something whose certificate can be swapped: an https.Server. */
export interface SecureContextHolder {
  setSecureContext(options: TlsPair): void;
}

/** Changes come in bursts (the certificate, then the key; write, then rename): one reload after the last. */
const DEBOUNCE_MS = 300;

/** Reads and checks a pair; throws a message naming the files when it cannot be served. */
export async function loadTlsPair(files: TlsFiles): Promise<TlsPair> {
  const [cert, key] = await Promise.all([
    readFile(files.certFile).catch((err: Error) => Promise.reject(new Error(`cannot read BOLLARD_TLS_CERT_FILE ${files.certFile}: ${err.message}`))),
    readFile(files.keyFile).catch((err: Error) => Promise.reject(new Error(`cannot read BOLLARD_TLS_KEY_FILE ${files.keyFile}: ${err.message}`))),
  ]);
  try {
    // parses both and checks that the key belongs to the certificate
    createSecureContext({ cert, key });
  } catch (err) {
    throw new Error(`the TLS certificate ${files.certFile} and key ${files.keyFile} cannot be used: ${(err as Error).message}`);
  }
  return { cert, key };
}

export function describeCertificate(cert: Buffer): Record<string, string> {
  try {
    const x = new X509Certificate(cert);
    return { subject: x.subject.replace(/\n/g, ', '), serial: x.serialNumber, validTo: x.validTo };
  } catch {
    return {};
  }
}

/** Reloads the pair on SIGHUP and on changes in the files' directories. */
export function watchTlsFiles(server: SecureContextHolder, files: TlsFiles, current: TlsPair, log: Logger): { stop(): void } {
  let inUse = current;
  let timer: NodeJS.Timeout | null = null;
  let reloading = Promise.resolve();

  const reload = async (reason: string) => {
    let pair: TlsPair;
    try {
      pair = await loadTlsPair(files);
    } catch (err) {
      log.error('tls certificate not reloaded, keeping the current one', { reason, error: (err as Error).message });
      return;
    }
    if (pair.cert.equals(inUse.cert) && pair.key.equals(inUse.key)) return;
    try {
      server.setSecureContext(pair);
    } catch (err) {
      log.error('tls certificate not reloaded, keeping the current one', { reason, error: (err as Error).message });
      return;
    }
    inUse = pair;
    log.info('tls certificate reloaded', { reason, ...describeCertificate(pair.cert) });
  };
  const schedule = (reason: string) => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      reloading = reloading.then(() => reload(reason));
    }, DEBOUNCE_MS);
  };

  const onHup = () => schedule('SIGHUP');
  process.on('SIGHUP', onHup);
  // the directories, not the files: a renewal that renames a new file into place
  // (or swaps a symlink, as Kubernetes secrets do) leaves a watch on the old inode deaf
  const names = new Set([basename(files.certFile), basename(files.keyFile)]);
  const watchers: FSWatcher[] = [];
  for (const dir of new Set([dirname(files.certFile), dirname(files.keyFile)])) {
    try {
      const w = watch(dir, { persistent: false }, (_event, name) => {
        // names of other files matter too where the pair is a symlink into a swapped directory
        if (name === null || names.has(String(name)) || String(name).startsWith('..')) schedule('file change');
      });
      w.on('error', (err) => log.warn('tls file watch failed; SIGHUP still reloads', { dir, error: err.message }));
      watchers.push(w);
    } catch (err) {
      log.warn('cannot watch the tls files; SIGHUP still reloads', { dir, error: (err as Error).message });
    }
  }
  return {
    stop: () => {
      process.removeListener('SIGHUP', onHup);
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
