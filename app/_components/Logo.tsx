export function Logo({ size = 24 }: { size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" className="logo">
      <rect x="2" y="3" width="20" height="7" rx="2" fill="currentColor" opacity="0.95" />
      <rect x="2" y="14" width="20" height="7" rx="2" fill="currentColor" opacity="0.55" />
      <circle cx="6" cy="6.5" r="1.3" fill="var(--bg-elev)" />
      <circle cx="6" cy="17.5" r="1.3" fill="var(--bg-elev)" />
    </svg>
  );
}
