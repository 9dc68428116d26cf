/** Ctrl+] (as in telnet and virsh console): gives the keyboard back to the page. */
export function isReleaseKey(e: KeyboardEvent): boolean {
  return e.type === 'keydown' && e.ctrlKey && !e.altKey && !e.metaKey && (e.code === 'BracketRight' || e.key === ']');
}
