// What the browser and the panel agree on for console WebSockets. Pure
// constants, imported by the bridge (server/console/) and the UI (app/).
//
//   1. The UI mints a ticket: trpc.console.ticket({ vmId, kind }) ->
//      { ticket, path, expiresAt }; `path` is consolePath(kind, vmId, ticket).
//   2. It opens new WebSocket(origin + path) (VNC with the 'binary'
//      subprotocol noVNC asks for). The session cookie goes along; the bridge
//      refuses the upgrade (HTTP 401/403/404) unless ticket, cookie, Origin
//      and the user's right to the VM all hold (401: ticket or session
//      missing, invalid, expired, used or not this user's; 403: foreign or
//      missing Origin, or no console right on a VM the user can see; 404: no
//      such VM for this user; 409: the VM is not running; 429: too many
//      consoles of this user or this VM; 502: its console
//      socket did not answer). A refused upgrade is a WebSocket closed with
//      1006 to a browser: mint a new ticket before retrying.
//   3. Frames are raw bytes both ways: RFB for 'vnc', the serial port's bytes
//      for 'serial' (the first frames replay the VM's recent output).
//   4. The panel ends an open console with one of CONSOLE_CLOSE.

export const CONSOLE_KINDS = ['vnc', 'serial'] as const;
export type ConsoleKind = (typeof CONSOLE_KINDS)[number];

/** A ticket is valid this long after minting, and only once. */
export const CONSOLE_TICKET_TTL_MS = 30_000;

/** WebSocket close codes the bridge uses (4000-4999 are for applications). */
export const CONSOLE_CLOSE = {
  /** The user's right to the VM ended (share revoked, user disabled). */
  accessEnded: 4001,
  /** The session behind the console ended (sign-out, expiry). */
  sessionEnded: 4002,
  /** The VM stopped or crashed; the UI reconnects when it runs again. */
  vmStopped: 4003,
  /** The VM process's socket is gone or refused the bridge. */
  vmUnreachable: 4004,
  /** The browser fell too far behind (backpressure limit). */
  tooSlow: 4005,
} as const;

/** Codes after which reconnecting makes sense once the VM runs. */
export const CONSOLE_RECONNECTABLE: readonly number[] = [CONSOLE_CLOSE.vmStopped, CONSOLE_CLOSE.vmUnreachable, CONSOLE_CLOSE.tooSlow, 1006];

export function consolePath(kind: ConsoleKind, vmId: string, ticket: string): string {
  return `/console/${kind}/${encodeURIComponent(vmId)}?ticket=${encodeURIComponent(ticket)}`;
}
