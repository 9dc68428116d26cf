import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config';

describe('configuration from the environment', () => {
  it('has working defaults: SQLite under the data dir, localhost:3000', () => {
    const c = loadConfig({ DATA_DIR: '/srv/panel' });
    expect(c.PORT).toBe(3000);
    expect(c.HOST).toBe('localhost');
    expect(c.databaseUrl).toBe('file:/srv/panel/panel.db');
    expect(c.isPostgres).toBe(false);
    expect(c.secureCookies).toBe(false);
  });

  it('recognizes PostgreSQL and HTTPS', () => {
    const c = loadConfig({ DATABASE_URL: 'postgresql://u@h/db', PUBLIC_URL: 'https://panel.example.org' });
    expect(c.isPostgres).toBe(true);
    expect(c.secureCookies).toBe(true);
  });

  it('names each bad variable', () => {
    const bad = () => loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', PUBLIC_URL: 'not a url', TRUST_PROXY: 'maybe' });
    expect(bad).toThrow(ConfigError);
    try {
      bad();
    } catch (e) {
      const msg = (e as Error).message;
      for (const name of ['PORT', 'DATABASE_URL', 'PUBLIC_URL', 'TRUST_PROXY']) expect(msg).toContain(`  ${name}: `);
    }
  });
});
