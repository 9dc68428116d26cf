// Everything a request handler needs, created once at start-up and passed
// down explicitly (no module-level singletons, so tests can build their own).
import type { Config } from './config';
import type { Db } from './db/client';
import { LoginThrottle } from './auth/throttle';
import { HostRegistry } from './agent/registry';
import { PanelEvents } from './events';

export interface Services {
  config: Config;
  db: Db;
  throttle: LoginThrottle;
  hosts: HostRegistry;
  /** VM changes (live views) and ended access (open consoles). */
  events: PanelEvents;
}

export function createServices(config: Config, db: Db): Services {
  return {
    config,
    db,
    throttle: new LoginThrottle({ windowMs: 15 * 60_000, maxPerAccount: 5, maxPerAddress: 50 }),
    hosts: new HostRegistry(),
    events: new PanelEvents(),
  };
}
