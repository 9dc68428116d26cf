import { formatDateTime, timeAgo } from '../_lib/format';

export interface AuditRow {
  id: string; at: Date; actorEmail: string; action: string; targetType: string; targetName: string; outcome: string; detail: string; ip: string;
}

export function AuditTable({ events, showTarget = true }: { events: AuditRow[]; showTarget?: boolean }) {
  return (
    <div className="table-wrap">
      <table className="table table-stack">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">Action</th>
            {showTarget ? <th scope="col">Target</th> : null}
            <th scope="col">Outcome</th>
            <th scope="col">Detail</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.id}>
              <td data-label="When"><time dateTime={new Date(e.at).toISOString()} title={formatDateTime(e.at)}>{timeAgo(e.at)}</time></td>
              <td data-label="Who">{e.actorEmail || <span className="muted">anonymous</span>}{e.ip ? <span className="muted small"> · {e.ip}</span> : null}</td>
              <td data-label="Action"><code>{e.action}</code></td>
              {showTarget ? <td data-label="Target">{e.targetName || <span className="muted">{e.targetType}</span>}</td> : null}
              <td data-label="Outcome"><span className={`outcome outcome-${e.outcome}`}>{e.outcome}</span></td>
              <td data-label="Detail" className="detail">{e.detail}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
