// Sending a blob file straight from the page cache to the client's socket with
// sendfile(2), through the optional addon src/native/sendfile.c (built by
// `npm install`; see scripts/build-native.ts). Without it, or where it does not
// apply (TLS, small bodies, too many at once), pulls copy through Node.
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Response } from 'express';

interface NativeSendfile {
  start(socketFd: number, fileFd: number, offset: number, length: number, stallMs: number, done: (errno: number, sent: number) => void): object;
  cancel(job: object): void;
}

/** Below this a copy costs less than a thread. */
export const ZERO_COPY_MIN_BYTES = 256 * 1024;
/** Transfers (threads) at once; more pulls than this copy through Node. */
const MAX_IN_FLIGHT = 64;
/** A client that takes no byte for this long is cut off. */
const STALL_MS = 5 * 60_000;

const addonPath = fileURLToPath(new URL('../../build/native/sendfile.node', import.meta.url));
let addon: NativeSendfile | null | undefined;
let inFlight = 0;
/** Transfers completed by sendfile since start (tests read it). */
export const zeroCopyStats = { transfers: 0, bytes: 0, inFlight: () => inFlight };

/** The addon, or null when it is not built or BOLLARD_ZERO_COPY is off (read on every call). */
export function zeroCopyAddon(): NativeSendfile | null {
  if (/^(0|false|no|off)$/i.test(process.env.BOLLARD_ZERO_COPY ?? '')) return null;
  if (addon === undefined) {
    addon = null;
    try {
      if (process.platform === 'linux') addon = createRequire(import.meta.url)(addonPath) as NativeSendfile;
    } catch {
      // not built here (no compiler at install time): the copy path serves
    }
  }
  return addon;
}

/** The socket's descriptor when it is a plain TCP socket Node still owns. */
function socketFd(socket: Socket | null): number | null {
  if (!socket || socket.destroyed || 'encrypted' in socket) return null;
  const handle = (socket as Socket & { _handle?: { fd?: number } })._handle;
  return typeof handle?.fd === 'number' && handle.fd >= 0 ? handle.fd : null;
}

/**
 * A zero-copy sender for this response's body of `length` bytes, or undefined
 * when the copy path must serve it. The sender resolves false, having sent
 * nothing, when it cannot start; it rejects once bytes may have gone out.
 */
export function fileSender(res: Response, length: number): ((fd: number, offset: number) => Promise<boolean>) | undefined {
  const native = zeroCopyAddon();
  if (!native || length < ZERO_COPY_MIN_BYTES || socketFd(res.socket) === null) return undefined;
  return async (fileFd, offset) => {
    if (inFlight >= MAX_IN_FLIGHT) return false;
    inFlight++;
    try {
      await flushHeaders(res);
      const fd = socketFd(res.socket);
      if (fd === null) throw new Error('client went away');
      await new Promise<void>((resolve, reject) => {
        let job: object | null = null;
        const onClose = () => {
          if (job) native.cancel(job);
        };
        res.once('close', onClose);
        job = native.start(fd, fileFd, offset, length, STALL_MS, (errno, sent) => {
          res.removeListener('close', onClose);
          if (errno === 0) {
            zeroCopyStats.transfers++;
            zeroCopyStats.bytes += sent;
            resolve();
          } else {
            reject(new Error(`sendfile stopped after ${sent} of ${length} bytes (errno ${errno})`));
          }
        });
      });
      return true;
    } finally {
      inFlight--;
    }
  };
}

/** Resolves once the status line and headers are in the kernel, with nothing of Node's queued behind them. */
function flushHeaders(res: Response): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket = res.socket;
    if (!socket || socket.destroyed) {
      reject(new Error('client went away'));
      return;
    }
    const settle = (err?: Error | null) => {
      socket.removeListener('close', onClose);
      socket.removeListener('drain', onDrain);
      if (err) reject(err);
      else resolve();
    };
    const onClose = () => settle(new Error('client went away'));
    const onDrain = () => settle();
    socket.once('close', onClose);
    res.write('', (err) => {
      if (err) settle(err);
      else if (socket.writableLength === 0) settle();
      else socket.once('drain', onDrain);
    });
  });
}
