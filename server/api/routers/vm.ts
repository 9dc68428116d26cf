// VM inventory and lifecycle. Each procedure: authorize through loadVm (one
// permission rule), apply the domain rule, write, audit.
import { statSync } from 'node:fs';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { authedProcedure, router, type Context } from '../trpc';
import { createVmInput, deleteVmInput, minDiskGiB, renameVmInput, resizeVmInput, vmIdInput } from '../../domain/validation';
import { deltaForCreate, deltaForResize } from '../../domain/quota';
import { isVmState, resizeRefusal, transition, type VmEvent } from '../../domain/vmState';
import { vmRights, type VmAction } from '../../domain/permissions';
import { loadVm } from '../vmAccess';
import { chooseHost } from '../../domain/placement';
import { chargeQuota, TX_OPTIONS } from '../quotaTx';
import { applyVmEvent, armDeadline, clearPending, clearPendingIf, DEFAULT_GRACE_SECONDS, forceNow, MAX_GRACE_SECONDS, noteReset, pendingOf, SYSTEM } from '../vmEvents';
import { audit } from '../audit';
import { NoHostError } from '../../agent/registry';
import { AgentError, type HostAgent, type VmSpec } from '../../agent/types';
import type { Principal } from '../../auth/sessions';
import type { Services } from '../../services';

/** How long a graceful stop or reboot waits for the guest before forcing it. */
const graceInput = vmIdInput.extend({ timeoutSeconds: z.number().int().min(1).max(MAX_GRACE_SECONDS).optional() });

type VmRow = Awaited<ReturnType<typeof loadVm>>['vm'];

function isUniqueViolation(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: string }).code === 'P2002';
}

function failure(e: unknown): TRPCError {
  if (e instanceof TRPCError) return e;
  if (e instanceof NoHostError || e instanceof AgentError) return new TRPCError({ code: 'PRECONDITION_FAILED', message: e.message });
  return new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: String(e), cause: e });
}

/** Runs a VM action and audits it whatever happens (ok, denied, error). */
async function audited<T>(
  ctx: Context & { principal: Principal },
  action: string,
  vmId: string,
  fn: (setTarget: (vm: { name: string; ownerId: string }) => void) => Promise<T>,
): Promise<T> {
  const seen: { target?: { name: string; ownerId: string } } = {};
  try {
    const result = await fn((vm) => (seen.target = vm));
    const target = seen.target;
    await audit(ctx, ctx.services.db, { action, targetType: 'vm', targetId: vmId, targetName: target?.name, vmOwnerId: target?.ownerId, outcome: 'ok' });
    return result;
  } catch (e) {
    const err = failure(e);
    const target = seen.target;
    // Refused by a rule (permissions, state machine, quota, input) vs. failed while trying.
    const denied = e instanceof TRPCError && e.code !== 'INTERNAL_SERVER_ERROR';
    await audit(ctx, ctx.services.db, {
      action, targetType: 'vm', targetId: vmId, targetName: target?.name, vmOwnerId: target?.ownerId,
      outcome: denied ? 'denied' : 'error', detail: err.message,
    });
    throw err;
  }
}

export function specOf(vm: VmRow & { image: { id: string; name: string } }, image: { kernelPath: string; initrdPath: string | null; diskTemplatePath: string | null; cmdline: string }): VmSpec {
  return {
    id: vm.id, name: vm.name, vcpus: vm.vcpus, memoryMiB: vm.memoryMiB, diskGiB: vm.diskGiB,
    image: { kernelPath: image.kernelPath, initrdPath: image.initrdPath, diskTemplatePath: image.diskTemplatePath, cmdline: image.cmdline },
  };
}

/** Apparent size of an image's disk template (0 without one or when unreadable: the agent then reports it). */
function templateBytes(templatePath: string | null): number {
  if (!templatePath) return 0;
  try {
    return statSync(templatePath).size;
  } catch {
    return 0;
  }
}

async function imageFor(ctx: Context, imageId: string) {
  const image = await ctx.services.db.image.findUnique({ where: { id: imageId } });
  if (!image) throw new TRPCError({ code: 'BAD_REQUEST', message: 'imageId: No such image.' });
  return image;
}

/**
 * The connected host a new VM goes to (see domain/placement.ts), or null when
 * there is none: the VM is then recorded unplaced. A full cluster is an error.
 */
async function placeVm(services: Services, want: { vcpus: number; memoryMiB: number }) {
  const agents = services.hosts.list();
  if (agents.length === 0) return null;
  const [hosts, sums] = await Promise.all([
    services.db.host.findMany({ where: { id: { in: agents.map((a) => a.hostId) } } }),
    services.db.vm.groupBy({ by: ['hostId'], where: { hostId: { in: agents.map((a) => a.hostId) } }, _sum: { vcpus: true, memoryMiB: true } }),
  ]);
  const placed = chooseHost(
    hosts.map((h) => {
      const s = sums.find((x) => x.hostId === h.id)?._sum;
      return { id: h.id, cpus: h.cpus, memoryMiB: h.memoryMiB, allocatedVcpus: s?.vcpus ?? 0, allocatedMemoryMiB: s?.memoryMiB ?? 0 };
    }),
    want,
  );
  if (!placed.hostId) throw new TRPCError({ code: 'PRECONDITION_FAILED', message: placed.reason! });
  return agents.find((a) => a.hostId === placed.hostId)!;
}

/** What the UI shows for a VM, with what the viewer may do to it. */
function view(services: Services, vm: VmRow & { owner?: { id: string; email: string; name: string }; host?: { name: string } | null }, principal: Principal, shareRole: Parameters<typeof vmRights>[2]) {
  const pending = pendingOf(services, vm.id);
  return {
    id: vm.id,
    name: vm.name,
    vcpus: vm.vcpus,
    memoryMiB: vm.memoryMiB,
    diskGiB: vm.diskGiB,
    image: vm.image,
    state: vm.state,
    lastError: vm.lastError,
    /** While a graceful stop waits for the guest: when it will be forced. */
    stopDeadline: vm.state === 'stopping' && pending?.action === 'stop' ? pending.deadline : null,
    /** While a graceful reboot waits for the guest: when it will be reset. */
    rebootDeadline: vm.state === 'running' && pending?.action === 'reboot' ? pending.deadline : null,
    host: vm.host?.name ?? null,
    owner: vm.owner ?? null,
    createdAt: vm.createdAt,
    updatedAt: vm.updatedAt,
    shareRole,
    rights: [...vmRights(principal.user, vm, shareRole)] as VmAction[],
  };
}

const listInclude = {
  image: { select: { id: true, name: true } },
  owner: { select: { id: true, email: true, name: true } },
  host: { select: { name: true } },
} as const;

async function lifecycle(ctx: Context & { principal: Principal }, id: string, event: VmEvent, auditAction: string, grace?: number | 'reset') {
  return audited(ctx, auditAction, id, async (setTarget) => {
    const { services } = ctx;
    const { vm } = await loadVm(services.db, ctx.principal, id, 'operate');
    setTarget(vm);
    const from = vm.state;
    if (!isVmState(from)) throw new Error(`unknown state ${from}`);
    const t = transition(from, event);
    if (!t.ok) throw new TRPCError({ code: 'PRECONDITION_FAILED', message: t.message });
    const seconds = typeof grace === 'number' ? grace : DEFAULT_GRACE_SECONDS;
    if (event === 'start') {
      // A VM created while no host existed is placed now; its disk is made on the chosen host.
      const placed = vm.hostId ? null : await placeVm(services, vm);
      const agent = placed ?? services.hosts.forHost(vm.hostId); // "no host available" before anything changes
      const image = await imageFor(ctx, vm.imageId);
      // Running VMs are a quota too: charge it with the state change.
      await services.db.$transaction(async (tx) => {
        await chargeQuota(tx, vm.ownerId, { runningVms: 1 });
        const { count } = await tx.vm.updateMany({
          where: { id, state: from, hostId: vm.hostId },
          data: { state: t.to, lastError: null, ...(placed ? { hostId: placed.hostId } : {}) },
        });
        if (count !== 1) throw new TRPCError({ code: 'CONFLICT', message: 'The VM changed state meanwhile. Try again.' });
      }, TX_OPTIONS);
      await services.events.vmChanged(services.db, id, [], t.to);
      try {
        if (placed) {
          await placed.createDisk(specOf(vm, image)).catch(async (e) => {
            // No disk was made there: the VM stays unplaced, and the next start places it again.
            await services.db.vm.updateMany({ where: { id }, data: { hostId: null } });
            throw e;
          });
          // Stopped (or deleted) while its disk was made: nothing to start.
          const now = await services.db.vm.findUnique({ where: { id }, select: { state: true } });
          if (now?.state !== 'starting') return { state: now?.state ?? 'deleted' };
        }
        await agent.start(specOf(vm, image));
      } catch (e) {
        await applyVmEvent(services, id, 'startFailed', { lastError: failure(e).message }).catch(() => {});
        throw e;
      }
      return { state: t.to };
    }
    const agent = services.hosts.forHost(vm.hostId);
    if (event === 'reboot') {
      if (grace === 'reset') {
        const note = noteReset(services, id);
        try {
          await agent.reboot(id, { force: true });
        } catch (e) {
          clearPendingIf(services, id, note); // no reset is coming: later reboots must not wait for it
          throw e;
        }
        return { state: t.to };
      }
      if (pendingOf(services, id)) throw new TRPCError({ code: 'PRECONDITION_FAILED', message: 'The VM is already rebooting; reset it to force the reboot.' });
      const deadline = armDeadline(services, id, 'reboot', seconds);
      await services.events.vmChanged(services.db, id, [], t.to);
      try {
        await agent.reboot(id, { force: false });
      } catch (e) {
        if (!(e instanceof AgentError)) throw e;
        await forceNow(services, vm, 'reboot', e.message); // the guest cannot be asked: reset it
        return { state: t.to, forced: true, deadline: null };
      }
      return { state: t.to, forced: false, deadline };
    }
    if (event === 'forceStop') {
      clearPending(services, id);
      await applyVmEvent(services, id, event, { expected: from });
      await agent.stop(id, { force: true });
      return { state: t.to };
    }
    // A graceful stop. A VM still starting has no guest to ask yet: it is stopped at once.
    // The deadline is armed only by the request whose state change won: a
    // concurrent stop that loses must not touch the winner's countdown.
    const armed: { deadline: Date | null } = { deadline: null };
    await applyVmEvent(services, id, event, {
      expected: from,
      onApplied: () => { if (from !== 'starting') armed.deadline = armDeadline(services, id, 'stop', seconds); },
    });
    const deadline = armed.deadline;
    if (!deadline) {
      await agent.stop(id, { force: true });
      return { state: t.to, forced: true, deadline: null };
    }
    try {
      const r = await agent.stop(id, { force: false });
      // No process was left to ask (its end had not reached the panel): the VM is stopped, no countdown.
      if (r?.alreadyStopped) return { state: t.to, forced: false, deadline: null };
    } catch (e) {
      if (!(e instanceof AgentError)) throw e;
      await forceNow(services, vm, 'stop', e.message);
      return { state: t.to, forced: true, deadline: null };
    }
    return { state: t.to, forced: false, deadline };
  });
}

/** Places the VMs created while no host existed on the connected hosts (a host just registered) and makes their disks. */
export async function placeUnplacedVms(services: Services): Promise<number> {
  const { db } = services;
  const vms = await db.vm.findMany({ where: { hostId: null, state: 'stopped' }, include: { image: true }, orderBy: { createdAt: 'asc' } });
  let placed = 0;
  for (const vm of vms) {
    let agent: HostAgent | null;
    try {
      agent = await placeVm(services, vm);
    } catch {
      continue; // no room anywhere: it stays unplaced, and starting it says why
    }
    if (!agent) break;
    const t = transition('stopped', 'place');
    if (!t.ok) continue;
    const { count } = await db.vm.updateMany({ where: { id: vm.id, hostId: null, state: 'stopped' }, data: { hostId: agent.hostId, state: t.to } });
    if (count !== 1) continue; // started (and placed) meanwhile
    placed++;
    const host = await db.host.findUnique({ where: { id: agent.hostId }, select: { name: true } });
    await audit({ principal: null, ip: '' }, db, {
      action: 'vm.place', targetType: 'vm', targetId: vm.id, targetName: vm.name, vmOwnerId: vm.ownerId, outcome: 'ok', detail: `on host ${host?.name ?? agent.hostId}`,
    });
    await services.events.vmChanged(db, vm.id, [], t.to);
    try {
      await agent.createDisk(specOf(vm, vm.image));
      await applyVmEvent(services, vm.id, 'created');
    } catch (e) {
      await createFailed(services, vm, failure(e).message).catch(() => {});
    }
  }
  return placed;
}

/** A VM whose disk could not be made: state `error` with why, audited (`vm.create_failed`). */
async function createFailed(services: Services, vm: { id: string; name: string; ownerId: string }, why: string): Promise<void> {
  await applyVmEvent(services, vm.id, 'createFailed', { lastError: why });
  await audit(SYSTEM, services.db, { action: 'vm.create_failed', targetType: 'vm', targetId: vm.id, targetName: vm.name, vmOwnerId: vm.ownerId, outcome: 'error', detail: why });
}

/**
 * The end of a delete, once the VM is `deleting`: its process ended (a VM
 * with none is fine), its disk removed (idempotent), its row deleted (which
 * releases its quota). Safe to repeat: a failed delete is retried with force.
 */
async function finishDelete(services: Services, vm: { id: string; hostId: string | null }, agent: HostAgent | null, wasActive: boolean): Promise<void> {
  if (agent) {
    if (wasActive) await agent.stop(vm.id, { force: true });
    await agent.deleteDisk(vm.id);
  }
  const audience = await services.events.audienceOf(services.db, vm.id);
  await services.db.vm.deleteMany({ where: { id: vm.id } });
  clearPending(services, vm.id);
  services.events.emitVm({ vmId: vm.id, audience, state: 'deleted' });
}

/**
 * When a host (re)connects, or the panel starts: disk work that was under way
 * when the panel or the agent went away has nobody waiting for it any more.
 * `creating` ends as failed ("interrupted", its partial disk removed);
 * `deleting` is finished. Returns how many VMs it settled.
 */
export async function recoverInterrupted(services: Services, agent: HostAgent): Promise<number> {
  const { db } = services;
  const vms = await db.vm.findMany({ where: { hostId: agent.hostId, state: { in: ['creating', 'deleting'] } } });
  let n = 0;
  for (const vm of vms) {
    const target = { targetType: 'vm' as const, targetId: vm.id, targetName: vm.name, vmOwnerId: vm.ownerId };
    try {
      if (vm.state === 'creating') {
        await agent.deleteDisk(vm.id); // the half-made disk (disk.img.partial) and its directory
        await createFailed(services, vm, 'Making the disk was interrupted (the panel or its host agent restarted). Delete this VM and create it again.');
      } else {
        await finishDelete(services, vm, agent, true);
        await audit(SYSTEM, db, { action: 'vm.delete', ...target, outcome: 'ok', detail: 'finished after an interruption' });
      }
      n++;
    } catch (e) {
      console.error(`vm ${vm.id}: recovering from ${vm.state} failed:`, e);
    }
  }
  return n;
}

export const vmRouter = router({
  list: authedProcedure.query(async ({ ctx }) => {
    const db = ctx.services.db;
    const me = ctx.principal.user.id;
    const [mine, shares] = await Promise.all([
      db.vm.findMany({ where: { ownerId: me }, include: listInclude, orderBy: { name: 'asc' } }),
      db.vmShare.findMany({ where: { userId: me }, include: { vm: { include: listInclude } }, orderBy: { createdAt: 'asc' } }),
    ]);
    return {
      mine: mine.map((vm) => view(ctx.services, vm, ctx.principal, null)),
      shared: shares.map((s) => view(ctx.services, s.vm, ctx.principal, s.role as 'viewer' | 'console' | 'operator')),
    };
  }),

  get: authedProcedure.input(vmIdInput).query(async ({ ctx, input }) => {
    const { vm, shareRole } = await loadVm(ctx.services.db, ctx.principal, input.id, 'view');
    const full = await ctx.services.db.vm.findUniqueOrThrow({ where: { id: vm.id }, include: listInclude });
    return view(ctx.services, full, ctx.principal, shareRole);
  }),

  create: authedProcedure.input(createVmInput).mutation(async ({ ctx, input }) => {
    const { services, principal } = ctx;
    const image = await imageFor(ctx, input.imageId);
    if (input.memoryMiB < image.minMemoryMiB) {
      throw new TRPCError({ code: 'BAD_REQUEST', message: `memoryMiB: ${image.name} needs at least ${image.minMemoryMiB} MiB.` });
    }
    const minDisk = minDiskGiB(templateBytes(image.diskTemplatePath));
    if (input.diskGiB < minDisk) {
      throw new TRPCError({ code: 'BAD_REQUEST', message: `diskGiB: ${image.name}'s disk template needs at least ${minDisk} GiB.` });
    }
    const agent = await placeVm(services, input);
    let vm;
    try {
      vm = await services.db.$transaction(async (tx) => {
        await chargeQuota(tx, principal.user.id, deltaForCreate(input));
        return tx.vm.create({
          data: {
            ...input,
            ownerId: principal.user.id,
            hostId: agent?.hostId ?? null,
            // Without a host the VM is recorded unplaced; its disk is made when it is placed.
            state: agent ? 'creating' : 'stopped',
          },
          include: listInclude,
        });
      }, TX_OPTIONS);
    } catch (e) {
      const err = isUniqueViolation(e) ? new TRPCError({ code: 'CONFLICT', message: 'name: You already have a VM with this name.' }) : failure(e);
      await audit(ctx, services.db, { action: 'vm.create', targetType: 'vm', targetName: input.name, vmOwnerId: principal.user.id, outcome: err.code === 'INTERNAL_SERVER_ERROR' ? 'error' : 'denied', detail: err.message });
      throw err;
    }
    await audit(ctx, services.db, { action: 'vm.create', targetType: 'vm', targetId: vm.id, targetName: vm.name, vmOwnerId: vm.ownerId, outcome: 'ok', detail: `${vm.vcpus} vCPU, ${vm.memoryMiB} MiB, ${vm.diskGiB} GiB, ${image.name}` });
    await services.events.vmChanged(services.db, vm.id, [], vm.state);
    if (agent) {
      // Disk preparation can take a while: the state shows progress live.
      // (If the panel stops meanwhile, recoverInterrupted() ends it as failed at the next start.)
      void agent.createDisk(specOf(vm, image)).then(
        () => applyVmEvent(services, vm.id, 'created'),
        (e) => createFailed(services, vm, failure(e).message),
      ).catch(() => {});
    }
    return view(services, vm, principal, null);
  }),

  rename: authedProcedure.input(renameVmInput).mutation(({ ctx, input }) =>
    audited(ctx, 'vm.rename', input.id, async (setTarget) => {
      const { vm } = await loadVm(ctx.services.db, ctx.principal, input.id, 'edit');
      setTarget(vm);
      try {
        await ctx.services.db.vm.update({ where: { id: vm.id }, data: { name: input.name } });
      } catch (e) {
        if (isUniqueViolation(e)) throw new TRPCError({ code: 'CONFLICT', message: 'name: The owner already has a VM with this name.' });
        throw e;
      }
      await ctx.services.events.vmChanged(ctx.services.db, vm.id);
      return { ok: true };
    }),
  ),

  resize: authedProcedure.input(resizeVmInput).mutation(({ ctx, input }) =>
    audited(ctx, 'vm.resize', input.id, async (setTarget) => {
      const { services } = ctx;
      const { vm } = await loadVm(services.db, ctx.principal, input.id, 'edit');
      setTarget(vm);
      const from = vm.state;
      if (!isVmState(from)) throw new Error(`unknown state ${from}`);
      const t = transition(from, 'resize');
      if (!t.ok) throw new TRPCError({ code: 'PRECONDITION_FAILED', message: t.message });
      const refusal = resizeRefusal(vm, input);
      if (refusal) throw new TRPCError({ code: 'BAD_REQUEST', message: refusal });
      await services.db.$transaction(async (tx) => {
        await chargeQuota(tx, vm.ownerId, deltaForResize(vm, input));
        const { count } = await tx.vm.updateMany({
          where: { id: vm.id, state: from },
          data: { vcpus: input.vcpus, memoryMiB: input.memoryMiB, diskGiB: input.diskGiB },
        });
        if (count !== 1) throw new TRPCError({ code: 'CONFLICT', message: 'The VM changed state meanwhile. Try again.' });
      }, TX_OPTIONS);
      await services.events.vmChanged(services.db, vm.id);
      // Grow the disk on its host now; if that host is away or fails, the next start grows it.
      if (input.diskGiB > vm.diskGiB && vm.hostId) {
        const agent = services.hosts.forHost(vm.hostId);
        if (agent) await agent.resizeDisk(vm.id, input.diskGiB).catch((e) => console.error(`vm ${vm.id}: disk grow deferred to the next start:`, (e as Error).message));
      }
      return { ok: true };
    }),
  ),

  delete: authedProcedure.input(deleteVmInput).mutation(({ ctx, input }) =>
    audited(ctx, input.force ? 'vm.delete_force' : 'vm.delete', input.id, async (setTarget) => {
      const { services } = ctx;
      const { vm } = await loadVm(services.db, ctx.principal, input.id, 'delete');
      setTarget(vm);
      const from = vm.state;
      if (!isVmState(from)) throw new Error(`unknown state ${from}`);
      const t = transition(from, input.force ? 'forceDelete' : 'delete');
      if (!t.ok) throw new TRPCError({ code: 'PRECONDITION_FAILED', message: t.message });
      const agent = vm.hostId ? services.hosts.forHost(vm.hostId) : null;
      // A VM already deleting (an earlier delete failed half-way) is deleted again, with force.
      if (from !== 'deleting') await applyVmEvent(services, vm.id, input.force ? 'forceDelete' : 'delete', { expected: from });
      // Deleting the row releases its quota: usage is derived from the VMs.
      await finishDelete(services, vm, agent, from !== 'stopped' && from !== 'crashed' && from !== 'error');
      return { ok: true };
    }),
  ),

  /** Counters of a running VM (null when it is not running); the UI derives rates from successive samples. */
  metrics: authedProcedure.input(vmIdInput).query(async ({ ctx, input }) => {
    const { vm } = await loadVm(ctx.services.db, ctx.principal, input.id, 'view');
    if (!vm.hostId || vm.state !== 'running') return null;
    try {
      return await ctx.services.hosts.forHost(vm.hostId).metrics(vm.id);
    } catch (e) {
      throw failure(e);
    }
  }),

  /**
   * Live updates: yields { vmId } whenever a VM the user may see changes
   * (state, size, shares, deletion). Clients refetch what they show.
   */
  onChange: authedProcedure.subscription(async function* ({ ctx, signal }) {
    const { db, events } = ctx.services;
    const { sessionId, tokenId } = ctx.principal;
    const me = { ...ctx.principal.user };
    // Sign-out, disabling and demotion reach an open feed: who listens is read
    // again on those events, before anything else is sent; gone, the feed ends.
    const ended = new AbortController();
    const end = () => ended.abort();
    signal!.addEventListener('abort', end, { once: true });
    let check: Promise<void> | null = null;
    const recheck = () => {
      check = (async () => {
        const u = await db.user.findUnique({ where: { id: me.id }, select: { role: true, disabled: true } });
        const s = sessionId ? await db.session.findUnique({ where: { id: sessionId }, select: { expiresAt: true } }) : null;
        const t = tokenId ? await db.apiToken.findUnique({ where: { id: tokenId }, select: { revokedAt: true } }) : null;
        const valid = sessionId ? !!s && s.expiresAt.getTime() > Date.now() : !!t && !t.revokedAt;
        if (!u || u.disabled || !valid) end();
        else me.role = u.role as typeof me.role;
      })().catch(end);
    };
    const offs = [
      events.onSessionsEnded((e) => e.userId === me.id && recheck()),
      events.onAccessEnded((e) => e.userId === me.id && !e.vmId && recheck()),
    ];
    try {
      for await (const change of events.vmChanges(ended.signal)) {
        if (check) await check;
        if (ended.signal.aborted) return;
        if (me.role === 'admin' || change.audience.includes(me.id)) yield { vmId: change.vmId, ...(change.state ? { state: change.state } : {}) };
      }
    } catch (e) {
      if (!ended.signal.aborted) throw e;
    } finally {
      for (const off of offs) off();
      signal!.removeEventListener('abort', end);
    }
  }),

  start: authedProcedure.input(vmIdInput).mutation(({ ctx, input }) => lifecycle(ctx, input.id, 'start', 'vm.start')),
  /** Graceful: presses the ACPI power button; forced after `timeoutSeconds` (default 30) if the guest has not powered off. */
  stop: authedProcedure.input(graceInput).mutation(({ ctx, input }) => lifecycle(ctx, input.id, 'stop', 'vm.stop', input.timeoutSeconds)),
  /** Ends the VM now. */
  forceStop: authedProcedure.input(vmIdInput).mutation(({ ctx, input }) => lifecycle(ctx, input.id, 'forceStop', 'vm.force_stop')),
  /** Graceful: the guest shuts down and starts again; reset after `timeoutSeconds` (default 30) if it has not. */
  reboot: authedProcedure.input(graceInput).mutation(({ ctx, input }) => lifecycle(ctx, input.id, 'reboot', 'vm.reboot', input.timeoutSeconds)),
  /** A hard reset now (a fresh VM process on the same disk). */
  reset: authedProcedure.input(vmIdInput).mutation(({ ctx, input }) => lifecycle(ctx, input.id, 'reboot', 'vm.reset', 'reset')),
});
