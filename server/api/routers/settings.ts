import type { Db, Tx } from '../../db/client';

/** The settings row, created with defaults on first use. */
export async function getSettings(db: Db | Tx) {
  return db.settings.upsert({ where: { id: 1 }, create: { id: 1 }, update: {} });
}
