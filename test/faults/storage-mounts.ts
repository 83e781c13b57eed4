// Small filesystems that fill up, for the full-disk faults: a tmpfs, or an ext4
// file system on a loop device (a real block file system, where Bollard stages
// uploads with O_DIRECT). Mounting needs root; every mount and loop device is
// recorded so that unmountAll() can release them even after a failed test.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, open, readdir, rm, stat, statfs, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SmallFs {
  kind: 'tmpfs' | 'ext4';
  /** The mount point. */
  root: string;
}

const cleanups: Array<() => Promise<unknown>> = [];

/** Whether this process may mount file systems (root, and a kernel or container that lets it). */
export async function canMount(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'not root';
  const probe = await mkdtemp(join(tmpdir(), 'bollard-mount-probe-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe]);
    await run('umount', [probe]);
    return null;
  } catch (err) {
    return `mount -t tmpfs failed: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    await rm(probe, { recursive: true, force: true });
  }
}

export async function mountTmpfs(sizeMiB: number, inodes: number): Promise<SmallFs> {
  const root = await mkdtemp(join(tmpdir(), 'bollard-full-tmpfs-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,nr_inodes=${inodes},mode=0755`, 'tmpfs', root]);
  cleanups.push(() => unmount(root));
  return { kind: 'tmpfs', root };
}

/** ext4 without reserved blocks (Bollard runs as root here and would use them). */
export async function mountExt4(sizeMiB: number): Promise<SmallFs> {
  const work = await mkdtemp(join(tmpdir(), 'bollard-full-ext4-'));
  cleanups.push(() => rm(work, { recursive: true, force: true }));
  const image = join(work, 'fs.img');
  const root = join(work, 'mnt');
  await mkdir(root);
  const fh = await open(image, 'w');
  await fh.truncate(sizeMiB * 1024 * 1024);
  await fh.close();
  await run('mkfs.ext4', ['-q', '-m', '0', '-E', 'nodiscard', image]);
  const device = (await run('losetup', ['--find', '--show', image])).stdout.trim();
  cleanups.push(() => run('losetup', ['--detach', device]));
  await run('mount', [device, root]);
  cleanups.push(() => unmount(root));
  return { kind: 'ext4', root };
}

async function unmount(root: string): Promise<void> {
  try {
    await run('umount', [root]);
  } catch {
    await run('umount', ['--lazy', root]); // something still holds a file open: detach it anyway
  }
}

/** Unmounts, detaches and removes everything mounted so far, newest first. */
export async function unmountAll(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
}

export async function freeBytes(fs: SmallFs): Promise<number> {
  const s = await statfs(fs.root);
  return s.bavail * s.bsize;
}

/**
 * Fills the file system with files under filler/ until only `leave` bytes are free,
 * or (leave = 0) until it refuses another byte; with `inodes`, then also takes
 * every free inode with empty files.
 */
export async function fill(fs: SmallFs, leave: number, inodes = false): Promise<void> {
  const dir = join(fs.root, 'filler');
  await mkdir(dir, { recursive: true });
  const fh = await open(join(dir, `blocks-${Date.now()}-${Math.random().toString(36).slice(2)}`), 'w');
  try {
    if (leave > 0) await writeUpTo(fh, (await freeBytes(fs)) - leave);
    else await writeAll(fh);
  } finally {
    await fh.close().catch(() => undefined);
  }
  if (!inodes) return;
  for (let i = 0; ; i++) {
    try {
      await (await open(join(dir, `inode-${i}`), 'wx')).close();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return;
      throw err;
    }
  }
}

const CHUNK = Buffer.alloc(256 * 1024, 0x5a);

async function writeUpTo(fh: FileHandle, bytes: number): Promise<void> {
  for (let left = bytes; left > 0; ) left -= (await fh.write(CHUNK, 0, Math.min(CHUNK.length, left))).bytesWritten;
  await fh.sync();
}

/**
 * Writes until the file system refuses even 1 KiB right after a sync: ext4 refuses
 * a write while delayed allocation holds worst-case reservations, and gives some
 * back once the data is written out.
 */
async function writeAll(fh: FileHandle): Promise<void> {
  for (const size of [CHUNK.length, 1024, 1024]) {
    for (;;) {
      try {
        await fh.write(CHUNK, 0, size);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        break;
      }
    }
    await fh.sync().catch(() => undefined);
  }
}

/** Frees what fill() took. */
export async function unfill(fs: SmallFs): Promise<void> {
  await rm(join(fs.root, 'filler'), { recursive: true, force: true });
}

/** Regular files under dir (relative paths) and their sizes; an absent dir is empty. */
export async function filesIn(dir: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    out[path.slice(dir.length + 1)] = (await stat(path)).size;
  }
  return out;
}
