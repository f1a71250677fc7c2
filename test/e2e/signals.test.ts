import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { getTestPki, type TestPki } from '../support/test-pki.js';
import { startServerProcess, type Launcher, type ServerProcess } from '../support/server-process.js';

/** Whether any process is left in the process group `pgid`. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits (bounded) until the group is empty; a server left listening fails the test. */
async function groupGone(pgid: number): Promise<boolean> {
  for (let i = 0; i < 100 && groupAlive(pgid); i++) {
    await sleep(100);
  }
  return !groupAlive(pgid);
}

/** Resolves with the connection's failure code (ECONNREFUSED once nothing listens), or 'connected'. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** The exit code, or a failure naming what did not happen within 30 s (instead of the suite's long timeout). */
async function bounded<T>(promise: Promise<T>, what: string): Promise<T> {
  const timer = new AbortController();
  const timeout = sleep(30_000, 'timeout' as const, { signal: timer.signal }).catch(() => 'cancelled' as const);
  try {
    const result = await Promise.race([promise, timeout]);
    if (result === 'timeout') {
      throw new Error(`${what} within 30 s`);
    }
    return result as T;
  } finally {
    timer.abort();
  }
}

const allPorts = (server: ServerProcess): number[] => [
  ...(Object.values(server.capsulePorts) as number[]),
  ...(Object.values(server.sharePorts) as number[]),
  server.managementPort,
];

/** Every port the server listened on now refuses connections. */
async function expectPortsClosed(server: ServerProcess): Promise<void> {
  const results = await Promise.all(allPorts(server).map(tryConnect));
  expect(results).to.deep.equal(allPorts(server).map(() => 'ECONNREFUSED'));
}

describe('stopping the server with a signal, however it was started', function () {
  // `npm start` builds before it starts (prestart): tsc takes a while on a loaded 2-core machine.
  this.timeout(180_000);
  let pki: TestPki;
  let running: ServerProcess | undefined;

  before(async () => {
    pki = await getTestPki();
  });
  afterEach(() => {
    // A failed test must not leave a server behind: the npm launchers run in a process group of their own.
    const pid = running?.child.pid;
    if (pid !== undefined && groupAlive(pid)) {
      process.kill(running?.child.spawnargs[0] === 'npm' ? -pid : pid, 'SIGKILL');
    }
    running = undefined;
  });

  const start = async (launcher: Launcher): Promise<ServerProcess> => {
    running = await startServerProcess(pki, 'sqlite:./cdoc2.sqlite', [], { launcher });
    expect(await tryConnect(running.capsulePorts.restSender)).to.equal('connected');
    return running;
  };

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`npm start: ${signal} to npm (only) stops the server cleanly, exit code 0, no process left, every port closed`, async () => {
      const server = await start('npm-start');
      expect(await bounded(server.stop(signal), 'the server did not exit')).to.equal(0);
      expect(await groupGone(server.child.pid as number), 'a process of npm start is still running').to.equal(true);
      expect(server.output()).to.match(new RegExp(`"signal":"${signal}","msg":"stopping"`));
      expect(server.output()).to.contain('"msg":"stopped"');
      await expectPortsClosed(server);
    });
  }

  it('npm start: Ctrl-C in a terminal (SIGINT to the whole process group, and npm forwards it) is one clean stop', async () => {
    const server = await start('npm-start');
    process.kill(-(server.child.pid as number), 'SIGINT');
    expect(await bounded(server.exited(), 'npm did not exit')).to.equal(0);
    expect(await groupGone(server.child.pid as number)).to.equal(true);
    expect(server.output()).to.not.contain('second signal');
    expect(server.output()).to.contain('"msg":"stopped"');
    await expectPortsClosed(server);
  });

  it('npm exec: SIGTERM to npm (only) stops the server behind its shell, no process left, every port closed', async () => {
    const server = await start('npm-exec');
    await bounded(server.stop('SIGTERM'), 'npm did not exit');
    expect(await groupGone(server.child.pid as number), 'the server outlived npm exec').to.equal(true);
    await expectPortsClosed(server);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`the bin: ${signal} stops the server cleanly with exit code 0 and every port closed`, async () => {
      const server = await start('bin');
      expect(await bounded(server.stop(signal), 'the server did not exit')).to.equal(0);
      expect(server.output()).to.contain('"msg":"stopped"');
      await expectPortsClosed(server);
    });
  }
});
