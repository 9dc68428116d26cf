import type { NextConfig } from 'next';

// The panel is served by its own Node server (server/main.ts), which hands
// page requests to Next. Nothing here may fetch from the internet at build or
// run time: no remote fonts, no remote images.
// Telemetry is off for every way Next is started (next build, server/main.ts).
process.env.NEXT_TELEMETRY_DISABLED ??= '1';

const config: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  typedRoutes: true,
  images: { unoptimized: true },
  // Type-check only the UI (and what it imports) during `next build`, so an
  // unrelated work-in-progress file elsewhere cannot break the page build.
  typescript: { tsconfigPath: 'tsconfig.next.json' },
};

export default config;
