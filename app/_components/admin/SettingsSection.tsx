'use client';
import { useEffect, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTRPC } from '../../_lib/trpc';
import { errorInfo } from '../../_lib/errors';
import { FormError } from '../Field';
import { ErrorBox, Loading } from '../States';
import { QuotaFields, draftOf, parseDraft, type QuotaDraft } from '../QuotaFields';
import { useToast } from '../Toast';

export function SettingsSection() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const toast = useToast();
  const settings = useQuery(trpc.admin.settings.queryOptions());
  const [signup, setSignup] = useState(false);
  const [draft, setDraft] = useState<QuotaDraft | null>(null);
  useEffect(() => {
    if (settings.data && draft === null) { setSignup(settings.data.signupEnabled); setDraft(draftOf(settings.data.defaultQuota)); }
  }, [settings.data, draft]);
  const save = useMutation(trpc.admin.updateSettings.mutationOptions({
    onSuccess: () => { toast.show('ok', 'Settings saved'); void qc.invalidateQueries({ queryKey: trpc.admin.settings.queryKey() }); void qc.invalidateQueries({ queryKey: trpc.auth.status.queryKey() }); },
  }));
  const q = draft ? parseDraft(draft) : null;
  const server = save.error ? errorInfo(save.error) : null;
  const fieldErrs = Object.fromEntries(Object.entries(server?.fields ?? {}).map(([k, m]) => [k.replace(/^defaultQuota\./, ''), m]));
  const submit = (e: FormEvent) => { e.preventDefault(); if (q?.value) save.mutate({ signupEnabled: signup, defaultQuota: q.value }); };
  return (
    <section className="section" aria-labelledby="settings-h" id="settings">
      <div className="section-head"><h2 id="settings-h">Settings</h2></div>
      {settings.isError ? <ErrorBox message={settings.error.message} /> : !draft ? <Loading rows={2} /> : (
        <form className="card stack" onSubmit={submit} noValidate aria-label="Panel settings">
          <label className="check switch">
            <input type="checkbox" role="switch" checked={signup} onChange={(e) => setSignup(e.target.checked)} />
            <span>Allow self sign-up <span className="muted small">— anyone who can reach the panel may create an account with the default quota.</span></span>
          </label>
          <p className="muted small">Default quota for new accounts:</p>
          <QuotaFields draft={draft} onChange={setDraft} errors={{ ...(q?.errors ?? {}), ...fieldErrs }} />
          <FormError message={server && Object.keys(server.fields).length === 0 ? server.message : null} />
          <div><button type="submit" className="btn btn-primary" disabled={save.isPending || !q?.value}>{save.isPending ? 'Saving…' : 'Save settings'}</button></div>
        </form>
      )}
    </section>
  );
}
