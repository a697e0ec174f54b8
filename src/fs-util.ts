// Small file-system helpers shared by the server's own files (the ACL file, the config file,
// the data directory): a durable whole-file replace, a mkdir -p that cannot loop, and the C
// library's strerror texts that Redis prints in its errors.
// Invariants:
// - writeFileDurably leaves either the old file or the complete new one at `path`, after a
//   crash at any point: the content goes to a temporary file in the same directory, which is
//   fsynced, renamed over `path`, and the directory fsynced (so the rename itself is durable).
//   On failure the temporary file is removed and the error thrown; `path` is untouched.
// - makeDirectories never loops: Node 20's mkdirSync(recursive) spins forever on a path under
//   /proc/<pid>/ (ENOENT for a parent that exists); here each level is tried once.

import {
  closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync,
} from 'node:fs'
import { dirname } from 'node:path'

/** strerror(3) for the codes Node reports; the code itself for others. */
const STRERROR: Readonly<Record<string, string>> = {
  ENOTDIR: 'Not a directory', EEXIST: 'File exists', EACCES: 'Permission denied',
  EPERM: 'Operation not permitted', ENOENT: 'No such file or directory',
  EROFS: 'Read-only file system', ENOSPC: 'No space left on device', EISDIR: 'Is a directory',
  EIO: 'Input/output error', ELOOP: 'Too many levels of symbolic links',
  ENAMETOOLONG: 'File name too long', EDQUOT: 'Disk quota exceeded',
}

export function strerror(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code
  if (code !== undefined && STRERROR[code] !== undefined) return STRERROR[code]
  return e instanceof Error ? e.message : String(e)
}

/** fsync a directory (the durability of a rename or a create inside it). */
export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Replace `path` with `data` so that a crash leaves the old or the new file, never a mix. */
export function writeFileDurably(path: string, data: string | Buffer, temporary: string): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data
  let fd = -1
  try {
    fd = openSync(temporary, 'w', 0o644)
    let done = 0
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done)
    fsyncSync(fd)
    closeSync(fd)
    fd = -1
    renameSync(temporary, path)
  } catch (e) {
    if (fd !== -1) closeSync(fd)
    try {
      unlinkSync(temporary)
    } catch {
      // Never created, or already renamed: nothing to remove.
    }
    throw e
  }
  fsyncDirectory(dirname(path))
}

/** mkdir -p, one attempt per level (see the invariant above). Throws the first real error. */
export function makeDirectories(dir: string): void {
  const parent = dirname(dir)
  try {
    mkdirSync(dir)
    return
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'EEXIST') {
      if (statSync(dir).isDirectory()) return
      throw Object.assign(new Error(`${dir}: Not a directory`), { code: 'ENOTDIR' })
    }
    if (code !== 'ENOENT' || parent === dir || existsSync(parent)) throw e
  }
  makeDirectories(parent)
  mkdirSync(dir)
}
