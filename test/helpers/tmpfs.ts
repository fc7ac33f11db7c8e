import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import type { Test } from 'tap';

/** A real, small file system at `dir` (a tmpfs of `size`, e.g. `64k`), to fill up; unmounted after the test. Needs root, as CI runs. */
export function smallDisk(t: Test, dir: string, size: string): void {
  mkdirSync(dir, { recursive: true });
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  t.equal(mount.status, 0, `a ${size} tmpfs (needs root): ${mount.stderr}`);
  t.teardown(() => {
    spawnSync('umount', [dir]);
  });
}
