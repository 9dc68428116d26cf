import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, startPanel, withUsers, type TestPanel } from '../support/server';
import { ROOT_DIR } from '../../server/config';

let panel: TestPanel;
let setup: Awaited<ReturnType<typeof withUsers>>;
beforeAll(async () => { panel = await startPanel('sqlite'); setup = await withUsers(panel, 1); });
afterAll(async () => { await panel.close(); });

describe('image catalog', () => {
  const guest = path.join(ROOT_DIR, 'native/guest/build/guest.elf');

  it('admins import a kernel by server path; a bad file is refused naming the field and the problem', async () => {
    const a = setup.admin;
    const bad = await errorOf(a.images.import.mutate({ name: 'junk', kernelPath: path.join(ROOT_DIR, 'package.json') }));
    expect(bad.code).toBe('BAD_REQUEST');
    expect(bad.message).toMatch(/^kernelPath: .*not a kernel/);
    const rel = await errorOf(a.images.import.mutate({ name: 'rel', kernelPath: 'native/guest/build/guest.elf' }));
    expect(rel.message).toMatch(/^kernelPath: An absolute path/);
    const initrd = await errorOf(a.images.import.mutate({ name: 'x', kernelPath: guest, initrdPath: guest }));
    expect(initrd.message).toMatch(/^initrdPath: .*not an initramfs/);
    expect(await panel.db.image.count()).toBe(0);

    const { id } = await a.images.import.mutate({ name: 'my-guest', kernelPath: guest, cmdline: 'console=ttyS0', minMemoryMiB: 32 });
    expect((await setup.users[0]!.c.images.list.query()).map((i) => i.name)).toEqual(['my-guest']);
    expect((await errorOf(a.images.import.mutate({ name: 'my-guest', kernelPath: guest }))).code).toBe('CONFLICT');

    // In use: cannot be removed.
    const vm = await setup.users[0]!.c.vm.create.mutate({ name: 'uses-it', imageId: id, vcpus: 1, memoryMiB: 32, diskGiB: 1 });
    expect((await errorOf(a.images.delete.mutate({ id }))).code).toBe('CONFLICT');
    await setup.users[0]!.c.vm.delete.mutate({ id: vm.id });
    await a.images.delete.mutate({ id });
    expect(await panel.db.image.count()).toBe(0);
  });

  it('a VM from an image with a disk template must be at least as large as the template', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kvmpanel-tpl-'));
    try {
      const tpl = path.join(dir, 'disk.img');
      writeFileSync(tpl, '');
      truncateSync(tpl, 2 * 2 ** 30 + 4096); // sparse: 2 GiB and a bit apparent, nothing allocated
      const image = await panel.db.image.create({ data: { name: 'big-template', kind: 'debian', kernelPath: guest, diskTemplatePath: tpl, minMemoryMiB: 32 } });
      const u = setup.users[0]!.c;
      const small = await errorOf(u.vm.create.mutate({ name: 'too-small', imageId: image.id, vcpus: 1, memoryMiB: 32, diskGiB: 2 }));
      expect(small.code).toBe('BAD_REQUEST');
      expect(small.message).toBe("diskGiB: big-template's disk template needs at least 3 GiB.");
      expect(await panel.db.vm.count({ where: { name: 'too-small' } })).toBe(0);
      const vm = await u.vm.create.mutate({ name: 'fits', imageId: image.id, vcpus: 1, memoryMiB: 32, diskGiB: 3 });
      await u.vm.delete.mutate({ id: vm.id });
      await panel.db.image.delete({ where: { id: image.id } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ordinary users cannot import or delete images', async () => {
    const u = setup.users[0]!.c;
    expect((await errorOf(u.images.import.mutate({ name: 'mine', kernelPath: guest }))).code).toBe('FORBIDDEN');
  });
});
