// The panel's single HTTP server: tRPC, WebSocket upgrades, health, and
// (when enabled) the Next.js pages. Tests start it without Next for speed;
// the API path is the same either way.
import http from 'node:http';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import type { Services } from './services';
import { appRouter } from './api/root';
import { createContext } from './api/trpc';
import { handleImageUpload, UPLOAD_PATH as IMAGE_UPLOAD_PATH } from './images/upload';
import { consoleBridge } from './console/bridge';

export interface PageHandler {
  handle: http.RequestListener;
  upgrade?: (req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => void;
}

export type UpgradeRoute = (req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => boolean;

/** Cross-site requests carrying our cookie are refused (SameSite=Lax is the first line, this the second). */
export function sameOrigin(req: http.IncomingMessage, publicUrl?: string): boolean {
  const origin = req.headers.origin;
  if (!origin) return true; // same-origin fetches of GET and non-browser clients send none
  try {
    const o = new URL(origin);
    if (publicUrl) return o.origin === new URL(publicUrl).origin;
    return o.host === req.headers.host;
  } catch {
    return false;
  }
}

export function createPanelServer(services: Services, opts: { pages?: PageHandler; upgrades?: UpgradeRoute[] } = {}): http.Server {
  const trpc = createHTTPHandler({
    router: appRouter,
    basePath: '/api/trpc/',
    maxBodySize: 1024 * 1024,
    createContext: ({ req, res }) => createContext(services, req, res),
    onError: ({ error, path }) => {
      if (error.code === 'INTERNAL_SERVER_ERROR') console.error(`trpc ${path}:`, error.cause ?? error);
    },
  });

  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'same-origin');
    if (url.startsWith('/api/trpc/')) {
      if (req.method !== 'GET' && !sameOrigin(req, services.config.PUBLIC_URL)) {
        // Shaped like a tRPC error so clients show the message.
        const error = { message: 'Cross-origin request refused.', code: -32003, data: { code: 'FORBIDDEN', httpStatus: 403 } };
        res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { json: error } }));
        return;
      }
      trpc(req, res);
      return;
    }
    if (url === IMAGE_UPLOAD_PATH || url.startsWith(`${IMAGE_UPLOAD_PATH}?`)) {
      void handleImageUpload(services, req, res);
      return;
    }
    if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (opts.pages) {
      res.setHeader('X-Frame-Options', 'DENY');
      opts.pages.handle(req, res);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });

  const consoles = consoleBridge(services);
  server.on('upgrade', (req, socket, head) => {
    if (consoles.route(req, socket, head)) return;
    for (const route of opts.upgrades ?? []) if (route(req, socket, head)) return;
    if (opts.pages?.upgrade && !(req.url ?? '').startsWith('/console/')) return opts.pages.upgrade(req, socket, head);
    socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
  });
  return server;
}
