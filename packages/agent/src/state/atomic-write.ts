import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

// Write a temporary file beside the target, fsync it, rename it over the target, then fsync the folder:
// after a crash the target holds either the old or the new content, never a torn mix, and the rename
// itself is durable. The temporary name is unique per process so two agents never share one.
const tmpPath = (path: string) => `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;

export async function writeFileAtomic(path: string, data: string, mode = 0o600): Promise<void> {
  const tmp = tmpPath(path);
  const file = await open(tmp, 'w', mode);
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** The same, synchronously: for the rare write that must be durable before the caller goes on. */
export function writeFileAtomicSync(path: string, data: string, mode = 0o600): void {
  const tmp = tmpPath(path);
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
