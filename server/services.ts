// Everything a request handler needs, created once at start-up and passed
// down explicitly (no module-level singletons, so tests can build their own).
import { EventEmitter } from 'node:events';
import type { Config } from './config';
import type { Db } from './db/client';
import { LoginThrottle } from './auth/throttle';
import { HostRegistry } from './agent/registry';

export interface Services {
  config: Config;
  db: Db;
  throttle: LoginThrottle;
  hosts: HostRegistry;
  /** Emits 'vm' with { vmId } whenever a VM's row changes: feeds live views. */
  events: EventEmitter;
}

export function createServices(config: Config, db: Db): Services {
  const events = new EventEmitter();
  events.setMaxListeners(0);
  return {
    config,
    db,
    throttle: new LoginThrottle({ windowMs: 15 * 60_000, maxPerAccount: 5, maxPerAddress: 50 }),
    hosts: new HostRegistry(),
    events,
  };
}
