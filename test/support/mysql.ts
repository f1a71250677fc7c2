import { randomBytes } from 'node:crypto';
import { createConnection } from 'mysql2/promise';

/**
 * The MariaDB/MySQL server the storage suites run against: `MYSQL_URL`, default root on 127.0.0.1:3306.
 * Each suite gets its own fresh database, dropped afterwards. No server answering is a failure, never a skip.
 */
export const MYSQL_URL = process.env['MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306/';

const serverUrl = (): URL => {
  const url = new URL(MYSQL_URL);
  url.pathname = '/';
  return url;
};

const redacted = (url: URL): string => {
  const copy = new URL(url);
  if (copy.password) {
    copy.password = '***';
  }
  return copy.toString();
};

export interface TestDatabase {
  /** `mysql://…/cdoc2_test_<random>`, for createDatabase / the app's configuration. */
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

async function connect() {
  const url = serverUrl();
  try {
    return await createConnection({ uri: url.toString(), connectTimeout: 5000 });
  } catch (error) {
    const code = (error as { code?: string }).code ?? (error as Error).message;
    throw new Error(
      `MariaDB/MySQL is not reachable at ${redacted(url)} (${code}). The storage and end-to-end suites need one: ` +
        'start the local server (start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd) ' +
        'or set MYSQL_URL, e.g. MYSQL_URL=mysql://user:password@host:3306/',
      { cause: error },
    );
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `cdoc2_test_${randomBytes(6).toString('hex')}`;
  const connection = await connect();
  try {
    await connection.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
  } finally {
    await connection.end();
  }
  const url = serverUrl();
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const dropper = await connect();
      try {
        await dropper.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await dropper.end();
      }
    },
  };
}
