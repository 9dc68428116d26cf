import type { NextConfig } from 'next';

// The panel is served by its own Node server (server/main.ts), which hands
// page requests to Next. Nothing here may fetch from the internet at build or
// run time: no remote fonts, no remote images.
const config: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  typedRoutes: true,
  images: { unoptimized: true },
};

export default config;
