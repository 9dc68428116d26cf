// Turns a tRPC error into what forms show: a message, per-field messages,
// and quota violations (the API's error shape is documented in test/api).
import { describeViolation, type QuotaResource, type QuotaViolation } from '@/server/domain/quota';

export interface ErrorInfo {
  code: string | null;
  message: string;
  fields: Record<string, string>;
  quota: QuotaViolation[];
}

interface ErrorData {
  code?: string;
  fieldErrors?: Record<string, string>;
  appCode?: string;
  quota?: QuotaViolation[];
}

export function errorInfo(e: unknown, knownFields: readonly string[] = []): ErrorInfo {
  const message = e instanceof Error ? e.message : String(e ?? 'Something went wrong.');
  const data = (typeof e === 'object' && e !== null && 'data' in e ? (e as { data?: ErrorData }).data : undefined) ?? {};
  const fields: Record<string, string> = { ...(data.fieldErrors ?? {}) };
  // Messages about one field start with "<field>: ".
  const m = /^([A-Za-z][\w.]*): (.+)$/s.exec(message);
  if (m && knownFields.includes(m[1]!) && !fields[m[1]!]) fields[m[1]!] = m[2]!;
  const quota = data.appCode === 'QUOTA_EXCEEDED' && Array.isArray(data.quota) ? data.quota : [];
  const isNetwork = /fetch failed|Failed to fetch|NetworkError/i.test(message);
  return {
    code: data.code ?? null,
    message: isNetwork ? 'The panel cannot be reached. Check your connection and try again.' : message,
    fields,
    quota,
  };
}

/** Which form field a quota resource belongs to (the rest go to the form itself). */
export function quotaFieldErrors(violations: QuotaViolation[], map: Partial<Record<QuotaResource, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of violations) {
    const field = map[v.resource] ?? '_';
    out[field] = out[field] ? `${out[field]}; ${describeViolation(v)}` : `Quota exceeded: ${describeViolation(v)}`;
  }
  return out;
}
