// Live updates over the tRPC subscription (Server-Sent Events), as the UI
// receives them: each user hears about the VMs they may see, and nothing else.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addImage, client, jarOf, startPanel, withUsers, type TestPanel } from '../support/server';
import { openVmFeed } from '../support/feed';

let panel: TestPanel;
let setup: Awaited<ReturnType<typeof withUsers>>;
let imageId: string;

beforeAll(async () => {
  panel = await startPanel('sqlite');
  setup = await withUsers(panel, 2);
  imageId = (await addImage(panel.db)).id;
});
afterAll(async () => { await panel.close(); });

/** Opens the subscription as a browser would and collects the VM ids it announces. */
async function listen(c: object) {
  const cookie = [...jarOf(c)].map(([k, v]) => `${k}=${v}`).join('; ');
  const ids: string[] = [];
  const feed = await openVmFeed(panel.url, cookie, ({ vmId }) => { if (!ids.includes(vmId)) ids.push(vmId); });
  expect(feed.response.headers.get('content-type')).toMatch(/text\/event-stream/);
  return { ids, ended: feed.ended, done: feed.done, stop: feed.stop };
}

describe('live VM updates', () => {
  it('reach the owner and share recipients, including revocation and deletion, and no one else', async () => {
    const [owner, other] = setup.users;
    const ownerFeed = await listen(owner!.c);
    const otherFeed = await listen(other!.c);
    const adminFeed = await listen(setup.admin);

    const vm = await owner!.c.vm.create.mutate({ name: 'live', imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    const secret = await owner!.c.vm.create.mutate({ name: 'secret', imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    await owner!.c.share.add.mutate({ vmId: vm.id, email: other!.email, role: 'viewer' });
    await new Promise((r) => setTimeout(r, 100));
    expect(otherFeed.ids).toEqual([vm.id]);

    otherFeed.ids.length = 0;
    await owner!.c.share.revoke.mutate({ vmId: vm.id, userId: other!.id }); // the revoked user must refresh too
    await owner!.c.vm.delete.mutate({ id: secret.id });
    await new Promise((r) => setTimeout(r, 100));
    expect(otherFeed.ids).toEqual([vm.id]);
    expect(ownerFeed.ids.sort()).toEqual([vm.id, secret.id].sort());
    expect(adminFeed.ids.sort()).toEqual([vm.id, secret.id].sort());
    await Promise.all([ownerFeed.stop(), otherFeed.stop(), adminFeed.stop()]);
  });

  it('refuses anonymous subscribers', async () => {
    const res = await fetch(`${panel.url}/api/trpc/vm.onChange`, { headers: { accept: 'text/event-stream' } });
    const text = await res.text();
    expect(text).toMatch(/UNAUTHORIZED|Sign in first/);
  });

  it('follows who listens: a demoted admin stops hearing about others’ VMs, a signed-out or disabled user’s feed ends', async () => {
    const [owner, other] = setup.users;
    await setup.admin.admin.updateUser.mutate({ id: other!.id, role: 'admin' });
    const promoted = client(panel.url);
    await promoted.auth.signIn.mutate({ email: other!.email, password: other!.password });
    const feed = await listen(promoted);
    const vm = await owner!.c.vm.create.mutate({ name: 'admin-sees', imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    await new Promise((r) => setTimeout(r, 100));
    expect(feed.ids).toContain(vm.id); // an admin hears about everyone's VMs

    await setup.admin.admin.updateUser.mutate({ id: other!.id, role: 'user' });
    feed.ids.length = 0;
    await owner!.c.vm.rename.mutate({ id: vm.id, name: 'admin-saw' });
    await new Promise((r) => setTimeout(r, 150));
    expect(feed.ids).toEqual([]); // no longer an admin: not someone else's VM
    expect(feed.ended()).toBe(false); // still signed in: the feed goes on

    // Signing out ends this session's feed (not only its next request).
    await promoted.auth.signOut.mutate();
    await Promise.race([feed.done, new Promise((r) => setTimeout(r, 1000))]);
    expect(feed.ended()).toBe(true);

    // Disabled: the feed ends too.
    const ownerFeed = await listen(owner!.c);
    await setup.admin.admin.updateUser.mutate({ id: owner!.id, disabled: true });
    await Promise.race([ownerFeed.done, new Promise((r) => setTimeout(r, 1000))]);
    expect(ownerFeed.ended()).toBe(true);
    await setup.admin.admin.updateUser.mutate({ id: owner!.id, disabled: false });
    await ownerFeed.stop();
    await feed.stop();
  });
});
