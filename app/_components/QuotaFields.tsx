'use client';
import { QUOTA_RESOURCES, type QuotaAmounts, type QuotaResource } from '@/server/domain/quota';
import { Field } from './Field';

export const QUOTA_FIELD_LABEL: Record<QuotaResource, string> = {
  vms: 'Max VMs', vcpus: 'Max vCPUs', memoryMiB: 'Max memory (MiB)', diskGiB: 'Max disk (GiB)', runningVms: 'Max running VMs',
};

export type QuotaDraft = Record<QuotaResource, string>;

export function draftOf(q: QuotaAmounts): QuotaDraft {
  return Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, String(q[r])])) as QuotaDraft;
}

export function parseDraft(d: QuotaDraft): { value: QuotaAmounts | null; errors: Partial<Record<QuotaResource, string>> } {
  const errors: Partial<Record<QuotaResource, string>> = {};
  const value = {} as QuotaAmounts;
  for (const r of QUOTA_RESOURCES) {
    const n = d[r].trim() === '' ? NaN : Number(d[r]);
    if (!Number.isInteger(n) || n < 0) errors[r] = 'A whole number, 0 or more.';
    else if (n > 1_000_000) errors[r] = 'At most 1000000.';
    value[r] = n;
  }
  return { value: Object.keys(errors).length ? null : value, errors };
}

export function QuotaFields({ draft, onChange, errors, over }: {
  draft: QuotaDraft; onChange: (d: QuotaDraft) => void;
  errors?: Partial<Record<string, string>>; over?: Partial<Record<QuotaResource, string>>;
}) {
  return (
    <fieldset className="quota-fields">
      <legend>Quota</legend>
      {QUOTA_RESOURCES.map((r) => (
        <Field key={r} label={QUOTA_FIELD_LABEL[r]} type="number" inputMode="numeric" min={0} value={draft[r]}
          onChange={(e) => onChange({ ...draft, [r]: e.target.value })}
          error={errors?.[r] ?? errors?.[`quota.${r}`] ?? null} hint={over?.[r]} />
      ))}
    </fieldset>
  );
}
