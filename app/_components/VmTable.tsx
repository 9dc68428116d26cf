'use client';
import Link from 'next/link';
import { StateBadge, RoleBadge } from './StateBadge';
import { VmActions, type VmLike } from './VmActions';
import { formatMiB } from '../_lib/format';
import { SecondsLeft } from './GraceCountdown';

export interface VmRow extends VmLike {
  vcpus: number; memoryMiB: number; diskGiB: number;
  image: { name: string }; lastError: string | null;
  owner: { email: string; name: string } | null; shareRole: string | null;
  stopDeadline?: Date | string | null;
}

export function VmTable({ vms, shared, label }: { vms: VmRow[]; shared?: boolean; label: string }) {
  return (
    <div className="table-wrap">
      <table className="table table-stack vm-table" aria-label={label}>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">State</th>
            <th scope="col">Size</th>
            <th scope="col">Image</th>
            {shared ? <th scope="col">Owner</th> : null}
            {shared ? <th scope="col">Your role</th> : null}
            <th scope="col"><span className="sr-only">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {vms.map((vm) => (
            <tr key={vm.id}>
              <td data-label="Name" className="cell-name">
                <Link href={`/vms/${vm.id}`} className="vm-link">{vm.name}</Link>
                {vm.lastError ? <div className="cell-error" title={vm.lastError}>{vm.lastError}</div> : null}
              </td>
              <td data-label="State"><StateBadge state={vm.state} />{vm.state === 'stopping' && vm.stopDeadline ? <SecondsLeft deadline={vm.stopDeadline} /> : null}</td>
              <td data-label="Size" className="nowrap">
                {vm.vcpus} vCPU · {formatMiB(vm.memoryMiB)} · {vm.diskGiB} GiB
              </td>
              <td data-label="Image">{vm.image.name}</td>
              {shared ? <td data-label="Owner">{vm.owner?.email}</td> : null}
              {shared ? <td data-label="Your role">{vm.shareRole ? <RoleBadge role={vm.shareRole} /> : null}</td> : null}
              <td className="cell-actions"><VmActions vm={vm} compact /></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
