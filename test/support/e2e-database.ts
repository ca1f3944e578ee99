import { randomBytes } from 'node:crypto';
import { connect, type Sql } from '@cockpit/controller';

/** The PostgreSQL server the suite makes its database on (TEST_DATABASE_URL, as every suite of the repo). */
export const SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface E2eDatabase {
  name: string;
  url: string;
  /** A client on the server (not on the database): for pg_terminate_backend and dropping it. */
  admin: Sql;
  drop(): Promise<void>;
}

/** A fresh database for one suite, dropped with its connections afterwards. */
export async function createE2eDatabase(): Promise<E2eDatabase> {
  const name = `cockpit_e2e_${Date.now()}_${randomBytes(3).toString('hex')}`;
  const admin = connect(SERVER_URL, { max: 1 });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    admin,
    drop: async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/** Kills every connection the controller holds on the database, as a failing server or network would. */
export async function killControllerConnections(db: E2eDatabase): Promise<number> {
  const rows = await db.admin<{ pid: number }[]>`
    select pg_terminate_backend(pid) as killed, pid from pg_stat_activity
    where datname = ${db.name} and application_name = 'cockpit-controller' and pid <> pg_backend_pid()`;
  return rows.length;
}
