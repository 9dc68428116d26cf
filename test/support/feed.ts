// The panel's live feed (the vm.onChange subscription, Server-Sent Events) read as a browser
// does, for tests and benches: each announced change is handed to `onChange` as it arrives.
export interface VmChange {
  vmId: string;
  /** Absent when the change carries no state (shares, renames). */
  state?: string;
  /** performance.now() when the line arrived. */
  at: number;
}

export interface VmFeed {
  response: Response;
  /** Settles when the stream ends (closed by the panel or by stop()). */
  done: Promise<void>;
  ended(): boolean;
  stop(): Promise<void>;
}

export async function openVmFeed(url: string, cookie: string, onChange: (c: VmChange) => void): Promise<VmFeed> {
  const ctrl = new AbortController();
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (cookie) headers.cookie = cookie;
  const response = await fetch(`${url}/api/trpc/vm.onChange`, { headers, signal: ctrl.signal });
  let ended = false;
  const done = (async () => {
    const reader = response.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        const { value, done: eof } = await reader.read();
        if (eof) break;
        buf += dec.decode(value, { stream: true });
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const m = /"vmId":"([^"]+)"(?:,"state":"([^"]+)")?/.exec(line);
          if (m) onChange({ vmId: m[1]!, ...(m[2] ? { state: m[2] } : {}), at: performance.now() });
        }
      }
    } catch {
      /* aborted */
    }
    ended = true;
  })();
  await new Promise((r) => setTimeout(r, 100)); // subscribed
  return { response, done, ended: () => ended, stop: async () => { ctrl.abort(); await done; } };
}
