'use client';
import { useDocumentTitle } from '../../../_lib/title';
import { useEffect, useState, type FormEvent } from 'react';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { checkQuota, deltaForCreate, QUOTA_RESOURCES, type QuotaResource } from '@/server/domain/quota';
import { diskGiB, memoryMiB, vcpus, vmName } from '@/server/domain/validation';
import { useTRPC } from '../../../_lib/trpc';
import { useFallbackPoll } from '../../../_lib/live';
import { errorInfo, quotaFieldErrors } from '../../../_lib/errors';
import { Field, FormError, SelectField } from '../../../_components/Field';
import { ErrorBox, PageHeader } from '../../../_components/States';
import { formatAmount, USAGE_LABEL } from '../../../_components/UsageBars';
import { useToast } from '../../../_components/Toast';

const FIELD_OF: Partial<Record<QuotaResource, string>> = { vms: 'name', vcpus: 'vcpus', memoryMiB: 'memoryMiB', diskGiB: 'diskGiB' };
const FIELDS = ['name', 'imageId', 'vcpus', 'memoryMiB', 'diskGiB'] as const;
type FieldName = (typeof FIELDS)[number];

function issue(schema: { safeParse: (v: unknown) => { success: boolean; error?: { issues: { message: string }[] } } }, v: unknown) {
  const r = schema.safeParse(v);
  return r.success ? null : r.error?.issues[0]?.message ?? 'Invalid.';
}

const num = (s: string) => (s.trim() === '' ? NaN : Number(s));

export default function NewVmPage() {
  useDocumentTitle('New VM');
  const trpc = useTRPC();
  const qc = useQueryClient();
  const router = useRouter();
  const toast = useToast();
  const images = useQuery(trpc.images.list.queryOptions());
  const quota = useQuery(trpc.account.quota.queryOptions(undefined, { refetchInterval: useFallbackPoll() }));
  const [v, setV] = useState({ name: '', imageId: '', vcpus: '1', memoryMiB: '512', diskGiB: '10' });
  const [touched, setTouched] = useState<Partial<Record<FieldName, boolean>>>({});
  const [submitted, setSubmitted] = useState(false);
  const [serverErr, setServerErr] = useState<{ fields: Record<string, string>; message: string | null } | null>(null);

  useEffect(() => {
    const first = images.data?.[0];
    if (first && !v.imageId) setV((s) => ({ ...s, imageId: first.id }));
  }, [images.data, v.imageId]);

  const create = useMutation(trpc.vm.create.mutationOptions({
    onSuccess: (vm) => {
      void qc.invalidateQueries({ queryKey: trpc.vm.pathKey() });
      void qc.invalidateQueries({ queryKey: trpc.account.quota.queryKey() });
      toast.show('ok', `Created ${vm.name}`);
      router.push('/');
    },
    onError: (e) => {
      const info = errorInfo(e, FIELDS);
      const fields = { ...info.fields, ...quotaFieldErrors(info.quota, FIELD_OF) };
      const known = Object.keys(fields).some((k) => (FIELDS as readonly string[]).includes(k));
      setServerErr({ fields, message: fields._ ?? (known ? null : info.message) });
    },
  }));

  const image = images.data?.find((i) => i.id === v.imageId);
  const size = { vcpus: num(v.vcpus), memoryMiB: num(v.memoryMiB), diskGiB: num(v.diskGiB) };
  const local: Record<FieldName, string | null> = {
    name: issue(vmName, v.name),
    imageId: v.imageId ? null : 'Choose an image.',
    vcpus: issue(vcpus, size.vcpus),
    memoryMiB: issue(memoryMiB, size.memoryMiB) ?? (image && size.memoryMiB < image.minMemoryMiB ? `${image.name} needs at least ${image.minMemoryMiB} MiB.` : null),
    diskGiB: issue(diskGiB, size.diskGiB),
  };
  const sizeValid = !local.vcpus && !local.memoryMiB && !local.diskGiB;
  const delta = sizeValid ? deltaForCreate(size) : null;
  const decision = quota.data && delta ? checkQuota(quota.data.limits, quota.data.usage, delta) : null;
  const quotaErrs = decision && !decision.ok ? quotaFieldErrors(decision.violations, FIELD_OF) : {};

  const errorFor = (k: FieldName) =>
    ((touched[k] || submitted) ? local[k] : null) ?? ((submitted || touched[k]) ? quotaErrs[k] : null) ?? serverErr?.fields[k] ?? null;

  const bind = (k: FieldName) => ({
    value: v[k],
    onChange: (e: { target: { value: string } }) => { setV((s) => ({ ...s, [k]: e.target.value })); setServerErr(null); },
    onBlur: () => setTouched((t) => ({ ...t, [k]: true })),
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSubmitted(true);
    setServerErr(null);
    if (Object.values(local).some(Boolean)) return;
    if (decision && !decision.ok) return; // refused here; the server would refuse too
    create.mutate({ name: v.name, imageId: v.imageId, ...size });
  };

  const formQuotaMsg = submitted ? quotaErrs._ ?? null : null;

  return (
    <>
      <nav aria-label="Breadcrumb" className="crumbs"><Link href="/">Dashboard</Link> <span aria-hidden="true">/</span> <span>New VM</span></nav>
      <PageHeader title="Create a virtual machine" subtitle="Choose an image and a size. What would remain of your quota updates as you type." />
      <div className="split">
        <form className="card stack" onSubmit={submit} noValidate aria-label="Create VM">
          <Field label="Name" name="name" autoComplete="off" spellCheck={false} placeholder="web-1" {...bind('name')} error={errorFor('name')}
            hint="Lowercase letters, digits and dashes." />
          {images.isError ? <ErrorBox message={images.error.message} onRetry={() => void images.refetch()} /> : (
            <SelectField label="Image" name="imageId" {...bind('imageId')} error={errorFor('imageId')} disabled={images.isPending || images.data?.length === 0}
              hint={images.data?.length === 0 ? 'No images are installed yet. Ask an administrator to add one.' : image?.description || (image ? `Needs at least ${image.minMemoryMiB} MiB of memory.` : undefined)}>
              {images.isPending ? <option value="">Loading images…</option> : null}
              {images.data?.length === 0 ? <option value="">No images available</option> : null}
              {images.data?.map((i) => <option key={i.id} value={i.id}>{i.name}</option>)}
            </SelectField>
          )}
          <div className="grid-3">
            <Field label="vCPUs" name="vcpus" type="number" inputMode="numeric" min={1} max={64} step={1} {...bind('vcpus')} error={errorFor('vcpus')} />
            <Field label="Memory (MiB)" name="memoryMiB" type="number" inputMode="numeric" min={32} step={64} {...bind('memoryMiB')} error={errorFor('memoryMiB')} />
            <Field label="Disk (GiB)" name="diskGiB" type="number" inputMode="numeric" min={1} step={1} {...bind('diskGiB')} error={errorFor('diskGiB')} />
          </div>
          <FormError message={formQuotaMsg ?? serverErr?.message ?? null} />
          <div className="btn-row">
            <button type="submit" className="btn btn-primary" disabled={create.isPending}>{create.isPending ? 'Creating…' : 'Create VM'}</button>
            <Link href="/" className="btn btn-ghost">Cancel</Link>
          </div>
        </form>

        <aside className="card quota-preview" aria-labelledby="after-h">
          <h2 id="after-h">After creating</h2>
          {!quota.data ? <p className="muted">Loading your quota…</p> : (
            <ul className="after-list">
              {QUOTA_RESOURCES.map((r) => {
                const d = delta?.[r] ?? 0;
                const left = quota.data.remaining[r] - d;
                const bad = left < 0;
                return (
                  <li key={r} className={bad ? 'bad' : ''}>
                    <span>{USAGE_LABEL[r]}</span>
                    <span className="after-num">
                      {bad ? `over by ${formatAmount(r, -left)}` : `${formatAmount(r, left)} left`}
                      <span className="muted"> of {formatAmount(r, quota.data.limits[r])}</span>
                    </span>
                  </li>
                );
              })}
            </ul>
          )}
          {decision && !decision.ok ? <p className="warn-text small">This size does not fit your quota.</p> : null}
        </aside>
      </div>
    </>
  );
}
