'use client';
// Admin: the image catalog, import by upload (files stream to
// PUT /api/images/upload with XMLHttpRequest upload progress, then
// images.importUpload) or by a path on the panel host (images.import), and
// removal of unused imported images.
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTRPC } from '../../../_lib/trpc';
import { errorInfo } from '../../../_lib/errors';
import { formatBytes, formatMiB } from '../../../_lib/format';
import { useDocumentTitle } from '../../../_lib/title';
import { useMe } from '../../../_components/Me';
import { Field, FormError } from '../../../_components/Field';
import { ConfirmDialog } from '../../../_components/ConfirmDialog';
import { Empty, ErrorBox, Loading, PageHeader } from '../../../_components/States';
import { useToast } from '../../../_components/Toast';

type Part = 'kernel' | 'initrd' | 'disk';
const LIMITS: Record<Part, number> = { kernel: 64 * 2 ** 20, initrd: 512 * 2 ** 20, disk: 64 * 2 ** 30 };
const PART_LABEL: Record<Part, string> = { kernel: 'Kernel', initrd: 'Initrd', disk: 'Disk template' };
const RUNS_ON: Record<string, { label: string; cls: string; title: string }> = {
  any: { label: 'any KVM host', cls: 'badge-ok', title: 'Boots on every KVM host, PVM hosts included.' },
  'hardware-kvm': { label: 'VT-x/AMD-V hosts', cls: 'badge-busy', title: 'A stock Linux kernel: needs hardware virtualization; on PVM hosts it stops in early boot.' },
  unknown: { label: 'not checked', cls: 'badge-idle', title: 'Imported files: stock Linux kernels need hosts with VT-x/AMD-V.' },
};

class UploadError extends Error {
  constructor(readonly part: Part, message: string) {
    super(message);
  }
}

/** One file to PUT /api/images/upload; resolves to the staged upload id. */
function uploadFile(part: Part, file: File, onProgress: (sent: number, total: number) => void, onXhr: (x: XMLHttpRequest) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    onXhr(xhr);
    xhr.open('PUT', `/api/images/upload?part=${part}&filename=${encodeURIComponent(file.name)}`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => {
      let body: { uploadId?: string; error?: string } = {};
      try { body = JSON.parse(xhr.responseText) as typeof body; } catch { /* not JSON */ }
      if (xhr.status === 201 && body.uploadId) resolve(body.uploadId);
      else reject(new UploadError(part, body.error ?? `Upload failed (HTTP ${xhr.status}).`));
    };
    xhr.onerror = () => reject(new UploadError(part, 'The upload was interrupted (network error or the connection was closed).'));
    xhr.onabort = () => reject(new UploadError(part, 'Upload cancelled.'));
    xhr.send(file);
  });
}

const stripPart = (part: Part, msg: string) => msg.replace(new RegExp(`^${part}: `), '');

function ImportForm() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const toast = useToast();
  const [mode, setMode] = useState<'upload' | 'path'>('upload');
  const [v, setV] = useState({ name: '', description: '', cmdline: 'console=ttyS0 console=tty0', minMemoryMiB: '128', kernelPath: '', initrdPath: '', diskTemplatePath: '' });
  const [files, setFiles] = useState<Partial<Record<Part, File>>>({});
  const [progress, setProgress] = useState<Partial<Record<Part, { sent: number; total: number; done: boolean }>>>({});
  const [fileErrors, setFileErrors] = useState<Partial<Record<Part, string>>>({});
  const [busy, setBusy] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);
  const [fields, setFields] = useState<Record<string, string>>({});
  const [xhr, setXhr] = useState<XMLHttpRequest | null>(null);
  const importUpload = useMutation(trpc.images.importUpload.mutationOptions());
  const importPath = useMutation(trpc.images.import.mutationOptions());
  const set = (k: keyof typeof v) => (e: { target: { value: string } }) => setV((s) => ({ ...s, [k]: e.target.value }));

  const reset = () => {
    setV((s) => ({ ...s, name: '', description: '', kernelPath: '', initrdPath: '', diskTemplatePath: '' }));
    setFiles({});
    (document.getElementById('image-import-form') as HTMLFormElement | null)?.reset();
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setFormError(null);
    setFields({});
    setFileErrors({});
    setProgress({});
    const minMemoryMiB = Number(v.minMemoryMiB);
    const common = { name: v.name.trim(), description: v.description, cmdline: v.cmdline, minMemoryMiB };
    const local: Record<string, string> = {};
    if (!common.name) local.name = 'Give the image a name.';
    if (!Number.isInteger(minMemoryMiB) || minMemoryMiB < 16) local.minMemoryMiB = 'A whole number of MiB (at least 16).';
    if (mode === 'upload') {
      const fe: Partial<Record<Part, string>> = {};
      if (!files.kernel) fe.kernel = 'Choose a kernel file (bzImage or PVH ELF).';
      for (const p of Object.keys(files) as Part[]) {
        if (files[p]!.size > LIMITS[p]) fe[p] = `Larger than the limit of ${formatBytes(LIMITS[p])}.`;
        if (files[p]!.size === 0) fe[p] = 'The file is empty.';
      }
      setFileErrors(fe);
      if (Object.keys(fe).length) { setFields(local); return; }
    } else if (!v.kernelPath.trim()) local.kernelPath = 'An absolute path on the panel host.';
    setFields(local);
    if (Object.keys(local).length) return;

    setBusy(true);
    try {
      if (mode === 'path') {
        await importPath.mutateAsync({ ...common, kernelPath: v.kernelPath.trim(), ...(v.initrdPath.trim() ? { initrdPath: v.initrdPath.trim() } : {}), ...(v.diskTemplatePath.trim() ? { diskTemplatePath: v.diskTemplatePath.trim() } : {}) });
      } else {
        const ids: Partial<Record<Part, string>> = {};
        for (const p of ['kernel', 'initrd', 'disk'] as Part[]) {
          const f = files[p];
          if (!f) continue;
          setProgress((s) => ({ ...s, [p]: { sent: 0, total: f.size, done: false } }));
          ids[p] = await uploadFile(p, f, (sent, total) => setProgress((s) => ({ ...s, [p]: { sent, total, done: false } })), setXhr);
          setProgress((s) => ({ ...s, [p]: { sent: f.size, total: f.size, done: true } }));
        }
        await importUpload.mutateAsync({ ...common, kernelUpload: ids.kernel!, ...(ids.initrd ? { initrdUpload: ids.initrd } : {}), ...(ids.disk ? { diskUpload: ids.disk } : {}) });
      }
      toast.show('ok', `Imported ${common.name}`);
      void qc.invalidateQueries({ queryKey: trpc.images.catalog.queryKey() });
      void qc.invalidateQueries({ queryKey: trpc.images.list.queryKey() });
      reset();
    } catch (err) {
      if (err instanceof UploadError) setFileErrors({ [err.part]: stripPart(err.part, err.message) });
      else {
        const info = errorInfo(err, ['name', 'description', 'cmdline', 'minMemoryMiB', 'kernelPath', 'initrdPath', 'diskTemplatePath', 'kernelUpload', 'initrdUpload', 'diskUpload']);
        const f = { ...info.fields };
        for (const [k, p] of [['kernelUpload', 'kernel'], ['initrdUpload', 'initrd'], ['diskUpload', 'disk']] as const) {
          if (f[k]) { setFileErrors((s) => ({ ...s, [p]: f[k] })); delete f[k]; }
        }
        setFields(f);
        if (!Object.keys(info.fields).length) setFormError(info.message);
      }
    } finally {
      setBusy(false);
      setXhr(null);
    }
  };

  const fileInput = (p: Part, hint: string) => {
    const pr = progress[p];
    return (
      <div className="field">
        <label htmlFor={`file-${p}`}>{PART_LABEL[p]}{p === 'kernel' ? '' : ' (optional)'}</label>
        <input id={`file-${p}`} name={p} type="file" disabled={busy} aria-invalid={fileErrors[p] ? true : undefined}
          aria-describedby={`file-${p}-msg`} onChange={(e) => { const f = e.target.files?.[0]; setFiles((s) => { const n = { ...s }; if (f) n[p] = f; else delete n[p]; return n; }); }} />
        <div id={`file-${p}-msg`}>
          {fileErrors[p] ? <div className="field-error" role="alert">{fileErrors[p]}</div>
            : <div className="field-hint">{files[p] ? `${files[p]!.name}, ${formatBytes(files[p]!.size)}. ` : ''}{hint}</div>}
        </div>
        {pr ? (
          <div className="small muted" aria-live="polite">
            <progress max={pr.total || 1} value={pr.sent} aria-label={`${PART_LABEL[p]} upload`} style={{ width: '100%' }} />
            <span data-testid={`progress-${p}`}>{pr.done ? 'Uploaded and checked' : `${formatBytes(pr.sent)} of ${formatBytes(pr.total)} (${Math.floor((pr.sent / (pr.total || 1)) * 100)}%)`}</span>
          </div>
        ) : null}
      </div>
    );
  };

  return (
    <section className="section" aria-labelledby="import-h" id="import">
      <div className="section-head"><h2 id="import-h">Import an image</h2></div>
      <form id="image-import-form" className="card stack" onSubmit={submit} noValidate aria-label="Import an image">
        <div role="radiogroup" aria-label="Where the files are" className="subnav">
          <label className="check"><input type="radio" name="mode" checked={mode === 'upload'} onChange={() => setMode('upload')} disabled={busy} /> <span>Upload files</span></label>
          <label className="check"><input type="radio" name="mode" checked={mode === 'path'} onChange={() => setMode('path')} disabled={busy} /> <span>Files on the panel host</span></label>
        </div>
        <div className="grid-2 tight">
          <Field label="Name" name="name" value={v.name} onChange={set('name')} error={fields.name} disabled={busy} autoComplete="off" />
          <Field label="Minimum memory (MiB)" name="minMemoryMiB" inputMode="numeric" value={v.minMemoryMiB} onChange={set('minMemoryMiB')} error={fields.minMemoryMiB} disabled={busy} />
        </div>
        <Field label="Description" name="description" value={v.description} onChange={set('description')} error={fields.description} disabled={busy} />
        <Field label="Default kernel command line" name="cmdline" value={v.cmdline} onChange={set('cmdline')} error={fields.cmdline} disabled={busy}
          hint="console=ttyS0 gives the serial console, console=tty0 the screen (the last one gets /dev/console)." />
        {mode === 'upload' ? (
          <div className="stack">
            {fileInput('kernel', 'A Linux bzImage (64-bit, boot protocol 2.12+) or an ELF kernel with a PVH entry; at most 64 MiB.')}
            {fileInput('initrd', 'An initramfs (cpio, possibly compressed); at most 512 MiB.')}
            {fileInput('disk', 'A raw disk image, copied (sparse) for each VM; at most 64 GiB. Convert qcow2 first: qemu-img convert -O raw.')}
          </div>
        ) : (
          <div className="stack">
            <Field label="Kernel path" name="kernelPath" value={v.kernelPath} onChange={set('kernelPath')} error={fields.kernelPath} disabled={busy} placeholder="/srv/images/vmlinuz" />
            <Field label="Initrd path (optional)" name="initrdPath" value={v.initrdPath} onChange={set('initrdPath')} error={fields.initrdPath} disabled={busy} />
            <Field label="Disk template path (optional)" name="diskTemplatePath" value={v.diskTemplatePath} onChange={set('diskTemplatePath')} error={fields.diskTemplatePath} disabled={busy} />
          </div>
        )}
        <FormError message={formError} />
        <div className="row" style={{ display: 'flex', gap: 8 }}>
          <button type="submit" className="btn btn-primary" disabled={busy}>{busy ? (mode === 'upload' ? 'Uploading…' : 'Importing…') : mode === 'upload' ? 'Upload and import' : 'Import'}</button>
          {busy && xhr ? <button type="button" className="btn" onClick={() => xhr.abort()}>Cancel upload</button> : null}
        </div>
      </form>
    </section>
  );
}

function Catalog() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const toast = useToast();
  const catalog = useQuery(trpc.images.catalog.queryOptions(undefined, { refetchInterval: 10_000 }));
  const [confirm, setConfirm] = useState<{ id: string; name: string } | null>(null);
  const del = useMutation(trpc.images.delete.mutationOptions({
    onSuccess: () => {
      toast.show('ok', `Removed ${confirm?.name ?? 'the image'}`);
      setConfirm(null);
      void qc.invalidateQueries({ queryKey: trpc.images.catalog.queryKey() });
      void qc.invalidateQueries({ queryKey: trpc.images.list.queryKey() });
    },
    onError: (e) => { toast.show('error', e.message); setConfirm(null); },
  }));
  const images = catalog.data?.images;
  return (
    <section className="section" aria-labelledby="catalog-h" id="catalog">
      <div className="section-head"><h2 id="catalog-h">Catalog</h2>{images ? <span className="count">{images.length}</span> : null}</div>
      {catalog.data?.hostKvm === 'pvm' ? <p className="muted small">This host&rsquo;s KVM is PVM (nested, no VT-x/AMD-V): stock Linux kernels stop in early boot here, so the test guest is the default image.</p> : null}
      {catalog.isPending ? <Loading rows={3} /> : catalog.isError ? <ErrorBox message={catalog.error.message} onRetry={() => void catalog.refetch()} /> : !images?.length ? (
        <Empty title="No images yet"><p>Run <code>npm run images</code> on the panel host for the built-in ones, or import one below.</p></Empty>
      ) : (
        <div className="table-wrap">
          <table className="table table-stack" aria-label="Images">
            <thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Files</th><th scope="col">Source</th><th scope="col">In use</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {images.map((i) => {
                const r = RUNS_ON[i.runsOn] ?? RUNS_ON.unknown!;
                return (
                  <tr key={i.id} data-image={i.name}>
                    <td data-label="Name">
                      <strong>{i.name}</strong> <span className={`badge ${r.cls}`} title={r.title}>{r.label}</span>
                      {i.description ? <div className="muted small">{i.description}</div> : null}
                      <div className="muted small">min {formatMiB(i.minMemoryMiB)}{i.cmdline ? <> · <code>{i.cmdline}</code></> : null}</div>
                    </td>
                    <td data-label="Kind">{i.kind}</td>
                    <td data-label="Files" className="small">
                      {i.files.map((f) => (
                        <div key={f.role} title={f.path}>
                          {f.role}: {f.exists ? formatBytes(f.size) : <span className="cell-error">missing</span>}
                          {f.exists && f.role === 'disk' && f.allocated < f.size ? <span className="muted"> ({formatBytes(f.allocated)} allocated)</span> : null}
                          <div className="muted" style={{ overflowWrap: 'anywhere' }}>{f.path}</div>
                        </div>
                      ))}
                    </td>
                    <td data-label="Source">{i.builtin ? 'built-in' : i.uploaded ? 'uploaded' : 'server path'}</td>
                    <td data-label="In use">{i.vms} VM{i.vms === 1 ? '' : 's'}</td>
                    <td data-label="Actions">
                      {!i.builtin ? (
                        <button type="button" className="btn btn-sm btn-danger-outline" disabled={i.vms > 0} title={i.vms > 0 ? 'VMs use this image: delete them first.' : undefined}
                          onClick={() => setConfirm({ id: i.id, name: i.name })} aria-label={`Delete image ${i.name}`}>Delete</button>
                      ) : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <ConfirmDialog open={confirm !== null} title={`Delete the image ${confirm?.name ?? ''}?`} confirmLabel="Delete image" danger busy={del.isPending}
        onConfirm={() => confirm && del.mutate({ id: confirm.id })} onCancel={() => setConfirm(null)}>
        <p>It disappears from the catalog. Files that were uploaded are removed; files imported by path stay where they are.</p>
      </ConfirmDialog>
    </section>
  );
}

export default function AdminImagesPage() {
  const me = useMe();
  useDocumentTitle('Images');
  if (me.role !== 'admin') {
    return (
      <>
        <PageHeader title="Images" />
        <Empty title="Administrators only"><p>Your account cannot manage images.</p></Empty>
      </>
    );
  }
  return (
    <>
      <PageHeader title="Images" subtitle="What VMs boot from: the built-in images (npm run images) and the ones admins import." />
      <nav className="subnav" aria-label="Images sections">
        <a href="/admin">← Administration</a><a href="#catalog">Catalog</a><a href="#import">Import</a>
      </nav>
      <Catalog />
      <ImportForm />
    </>
  );
}
