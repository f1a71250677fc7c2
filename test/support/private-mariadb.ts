import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';

/**
 * A MariaDB server of the test's own (its own data directory and port on 127.0.0.1), so that a test can stop and
 * restart the database under a running key server without disturbing the shared one. `--no-defaults` keeps the
 * machine's my.cnf (user, log paths) out of it.
 */
export interface PrivateMariaDb {
  /** `mysql://root@127.0.0.1:<port>/cdoc2` */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  /**
   * SIGSTOP: the server keeps its connections open but answers nothing (a hung database). Returns once every thread
   * of the server has stopped, so that a statement sent right after it is not run before the server resumes.
   */
  freeze(): void;
  /** SIGCONT after freeze(). */
  thaw(): void;
  /** Stops it and removes its data directory. */
  destroy(): Promise<void>;
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

/**
 * Creates the system tables of a new data directory (root without password, no test database), owned by `user`
 * (the account the server will run as).
 */
export function installDataDirectory(data: string, user = 'root'): void {
  const install = spawnSync(
    'mariadb-install-db',
    [
      '--no-defaults',
      `--datadir=${data}`,
      `--user=${user}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
    ],
    { encoding: 'utf8' },
  );
  if (install.status !== 0) {
    throw new Error(`mariadb-install-db failed: ${install.stdout}${install.stderr}`);
  }
}

/**
 * Waits until the server on `port` accepts root and runs `statement` (by default it creates the `cdoc2` database).
 * `isAlive` stops the wait early when the process has exited.
 */
export async function waitForSql(
  port: number,
  timeoutMs: number,
  isAlive: () => boolean = () => true,
  statement = 'CREATE DATABASE IF NOT EXISTS cdoc2',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const connection = await createConnection({ host: '127.0.0.1', port, user: 'root', connectTimeout: 1000 });
      try {
        await connection.query(statement);
      } finally {
        await connection.end();
      }
      return;
    } catch (error) {
      if (Date.now() > deadline || !isAlive()) {
        throw new Error(`the private MariaDB on port ${port} did not answer: ${(error as Error).message}`, {
          cause: error,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** The state letter of a thread (`T` stopped), from /proc/<pid>/task/<tid>/stat; undefined once it has gone. */
const threadState = (pid: number, tid: string): string | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
};

const pauseSync = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/**
 * Waits, synchronously, until every thread of `pid` is stopped. A SIGSTOP stops a multi-threaded process only once
 * the thread that takes the signal has run: on a loaded machine the other threads went on for milliseconds, long
 * enough to answer a statement sent just after the signal (seen: a DELETE answered 5 ms after it).
 */
function waitUntilStopped(pid: number, timeoutMs = 10_000): void {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const states = readdirSync(`/proc/${pid}/task`).map((tid) => threadState(pid, tid));
    if (states.every((state) => state === undefined || state === 'T' || state === 't')) {
      return;
    }
    if (Date.now() > until) {
      throw new Error(`the private MariaDB (pid ${pid}) did not stop within ${timeoutMs} ms`);
    }
    pauseSync(1);
  }
}

/** `serverArgs`: extra mariadbd options (e.g. InnoDB settings a benchmark wants to match). */
export async function startPrivateMariaDb(serverArgs: readonly string[] = []): Promise<PrivateMariaDb> {
  const dir = mkdtempSync(join(tmpdir(), 'cdoc2-mariadb-'));
  const data = join(dir, 'data');
  installDataDirectory(data);
  const port = await freePort();
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const started = spawn(
      'mariadbd',
      [
        '--no-defaults',
        `--datadir=${data}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--socket=${join(dir, 'mysqld.sock')}`,
        `--pid-file=${join(dir, 'mysqld.pid')}`,
        '--user=root',
        '--skip-name-resolve',
        ...serverArgs,
      ],
      { stdio: 'ignore' },
    );
    child = started;
    await waitForSql(port, 20_000, () => started.exitCode === null && started.signalCode === null);
  };

  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (running && running.exitCode === null) {
      const exited = new Promise((resolve) => running.once('exit', resolve));
      // A frozen server would keep the SIGTERM pending forever.
      running.kill('SIGCONT');
      running.kill('SIGTERM');
      await exited;
    }
  };

  await start();
  return {
    url: `mysql://root@127.0.0.1:${port}/cdoc2`,
    port,
    stop,
    start,
    freeze: () => {
      if (child?.pid !== undefined && child.kill('SIGSTOP')) {
        waitUntilStopped(child.pid);
      }
    },
    thaw: () => child?.kill('SIGCONT'),
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
