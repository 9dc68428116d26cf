// Input rules shared by the API (authoritative) and the forms (live hints).
// Every object is strict: unknown fields are an error, not silently dropped.
import { z } from 'zod';
import { SHARE_ROLES, USER_ROLES } from './permissions';

// Bounds that keep a single request sane; quotas decide what a user may have.
export const LIMITS = {
  vcpus: { min: 1, max: 64 },
  memoryMiB: { min: 32, max: 1024 * 1024 },
  diskGiB: { min: 1, max: 64 * 1024 },
  quotaMax: 1_000_000,
} as const;

const noControlChars = (s: string) => !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(s);

export const vmName = z
  .string()
  .min(1, 'Name is required.')
  .max(63, 'At most 63 characters.')
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'Lowercase letters, digits and dashes; no dash at either end.');

export const displayName = z
  .string()
  .trim()
  .min(1, 'Name is required.')
  .max(100, 'At most 100 characters.')
  .refine(noControlChars, 'Control characters are not allowed.');

export const email = z
  .string()
  .trim()
  .max(254, 'At most 254 characters.')
  .toLowerCase()
  .pipe(z.email('Not a valid email address.'));

export const password = z
  .string()
  .min(10, 'At least 10 characters.')
  .max(256, 'At most 256 characters.');

export const id = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, 'Not a valid id.');

const intIn = (min: number, max: number, what: string) =>
  z
    .number({ error: `${what} must be a number.` })
    .int(`${what} must be a whole number.`)
    .min(min, `${what} must be at least ${min}.`)
    .max(max, `${what} must be at most ${max}.`);

export const vcpus = intIn(LIMITS.vcpus.min, LIMITS.vcpus.max, 'vCPUs');
export const memoryMiB = intIn(LIMITS.memoryMiB.min, LIMITS.memoryMiB.max, 'Memory');
export const diskGiB = intIn(LIMITS.diskGiB.min, LIMITS.diskGiB.max, 'Disk');

export const createVmInput = z.strictObject({
  name: vmName,
  imageId: id,
  vcpus,
  memoryMiB,
  diskGiB,
});

/** The smallest disk (GiB) a VM made from a template of this many bytes may have: the copy must fit. */
export function minDiskGiB(templateBytes: number): number {
  return Math.max(1, Math.ceil(templateBytes / 2 ** 30));
}

export const resizeVmInput = z.strictObject({ id, vcpus, memoryMiB, diskGiB });
export const renameVmInput = z.strictObject({ id, name: vmName });
export const vmIdInput = z.strictObject({ id });
export const deleteVmInput = z.strictObject({ id, force: z.boolean().optional() });

export const shareRole = z.enum(SHARE_ROLES, { error: 'Role must be viewer, console or operator.' });
export const userRole = z.enum(USER_ROLES, { error: 'Role must be admin or user.' });

export const shareInput = z.strictObject({ vmId: id, email, role: shareRole });
export const shareUpdateInput = z.strictObject({ vmId: id, userId: id, role: shareRole });
export const shareRevokeInput = z.strictObject({ vmId: id, userId: id });

const quotaValue = (what: string) => intIn(0, LIMITS.quotaMax, what);
export const quotaInput = z.strictObject({
  vms: quotaValue('Max VMs'),
  vcpus: quotaValue('Max vCPUs'),
  memoryMiB: quotaValue('Max memory'),
  diskGiB: quotaValue('Max disk'),
  runningVms: quotaValue('Max running VMs'),
});

export const setupInput = z.strictObject({ email, name: displayName, password });
export const signInInput = z.strictObject({ email: z.string().max(254), password: z.string().max(256) });
export const signUpInput = setupInput;

export const changePasswordInput = z.strictObject({ current: z.string().max(256), next: password });

export const createUserInput = z.strictObject({
  email,
  name: displayName,
  password,
  role: userRole,
  quota: quotaInput.optional(),
});

export const updateUserInput = z.strictObject({
  id,
  name: displayName.optional(),
  role: userRole.optional(),
  disabled: z.boolean().optional(),
  quota: quotaInput.optional(),
  password: password.optional(),
});

export const settingsInput = z.strictObject({
  signupEnabled: z.boolean(),
  defaultQuota: quotaInput,
});

export const tokenNameInput = z.strictObject({ name: displayName });

export const auditFilterInput = z.strictObject({
  vmId: id.optional(),
  actorId: id.optional(),
  action: z.string().max(64).regex(/^[a-z.]*$/, 'Not a valid action.').optional(),
  outcome: z.enum(['ok', 'denied', 'error']).optional(),
  limit: z.number().int().min(1).max(200).optional(),
  cursor: id.optional(),
});

const serverPath = z
  .string()
  .max(4096, 'At most 4096 characters.')
  .regex(/^\/[^\u0000]*$/, 'An absolute path on the panel host.');

export const importImageInput = z.strictObject({
  name: vmName,
  description: z.string().max(500, 'At most 500 characters.').refine(noControlChars, 'Control characters are not allowed.').default(''),
  kernelPath: serverPath,
  initrdPath: serverPath.optional(),
  diskTemplatePath: serverPath.optional(),
  cmdline: z.string().max(2048, 'At most 2048 characters.').refine(noControlChars, 'Control characters are not allowed.').default(''),
  minMemoryMiB: memoryMiB.default(64),
});

/** First message per field, keyed by dotted path: what forms show beside inputs. */
export function fieldErrors(error: z.ZodError): Record<string, string> {
  const out: Record<string, string> = {};
  for (const issue of error.issues) {
    const key = issue.path.join('.') || '_';
    if (!(key in out)) out[key] = issue.message;
  }
  return out;
}
