import { describe, expect, it } from 'vitest';
import { imagePathProblem } from './migration-images.ts';

describe('imagePathProblem', () => {
  it('takes absolute paths in their normal form only', () => {
    expect(imagePathProblem('/var/lib/libvirt/images/a.qcow2')).toBeUndefined();
    expect(imagePathProblem('/srv/pool/vm 1/disk.img')).toBeUndefined();
    for (const path of [
      'images/a.img',
      '/var/lib/libvirt/images/../../../etc/x',
      '/var/lib/libvirt/images/./a.img',
      '/var/lib/libvirt/images//a.img',
      '/x/../dev/sda',
      '/var/lib/libvirt/images/',
      '',
    ]) {
      expect(imagePathProblem(path), path).toMatch(/not an absolute path in its normal form/);
    }
  });
});
