// The panel process: configuration, database, services, one HTTP server
// serving Next.js pages, tRPC and WebSockets.
import next from 'next';
import { ConfigError, loadConfig, ROOT_DIR } from './config';
import { createDb } from './db/client';
import { createServices } from './services';
import { createPanelServer } from './http';
import { consoleBridge } from './console/bridge';
import { startLocalAgent } from './agent/boot';
import { clearAllPending } from './api/vmEvents';

async function main() {
  const dev = process.argv.includes('--dev');
  const config = loadConfig();
  const db = await createDb(config.databaseUrl);
  const services = createServices(config, db);
  await startLocalAgent(services);

  const app = next({ dev, dir: ROOT_DIR, hostname: config.HOST, port: config.PORT });
  await app.prepare();
  const server = createPanelServer(services, {
    pages: { handle: app.getRequestHandler(), upgrade: app.getUpgradeHandler() },
  });

  server.listen(config.PORT, config.HOST, () => {
    const host = config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST;
    console.log(`panel: serving on http://${host}:${config.PORT} (data in ${config.dataDir}, ${config.isPostgres ? 'PostgreSQL' : 'SQLite'})`);
  });

  const shutdown = () => {
    clearAllPending(services); // deadlines of graceful stops: the next panel arms fresh ones
    consoleBridge(services).shutdown();
    server.close();
    void db.$disconnect().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((e) => {
  if (e instanceof ConfigError) {
    console.error(e.message);
    process.exit(2);
  }
  console.error('panel: failed to start:', e instanceof Error ? e.message : e);
  process.exit(1);
});
