import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { CapsulePorts, SharePorts } from '../../src/main/app.js';
import { TEST_SHARES_BASE_URL } from './test-server.js';
import type { TestPki } from './test-pki.js';

export const PACKAGE_ROOT = resolve(__dirname, '../..');
const CLI_SOURCE = join(PACKAGE_ROOT, 'src/main/cli.ts');
/** The bin of package.json, as `npm run build` writes it. */
export const CLI_BIN = join(PACKAGE_ROOT, 'dist/src/main/cli.js');
const TSX = require.resolve('tsx/cjs');

let built: Promise<void> | undefined;

/** Builds dist/ once per test run, for the tests that run the real bin (`npm start` builds by itself). */
export function ensureBuilt(): Promise<void> {
  built ??= promisify(execFile)('npm', ['run', '--silent', 'build'], { cwd: PACKAGE_ROOT, env: childEnv() }).then(
    () => undefined,
  );
  return built;
}

/**
 * The environment of a child process: without CDOC2_* (only what a test sets) and without the npm_* variables
 * of an outer `npm test` (so that a nested npm, and the server, see what an operator's shell would give them).
 */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith('CDOC2_') && !/^npm_/i.test(name)),
    ),
    ...extra,
  };
}

/**
 * How the server is started: from the sources (tsx), through the built bin, or the way an operator might:
 * `npm start -- --config FILE` or `npm exec -- cdoc2-keyserver serve --config FILE` (npm in its own process group).
 */
export type Launcher = 'source' | 'bin' | 'npm-start' | 'npm-exec';

function launch(
  launcher: Launcher,
  file: string,
  env: Record<string, string>,
  nodeArgs: readonly string[],
): ChildProcess {
  const options: SpawnOptions = { cwd: PACKAGE_ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] };
  switch (launcher) {
    case 'source':
      return spawn(process.execPath, [...nodeArgs, '--require', TSX, CLI_SOURCE, 'serve', '--config', file], options);
    case 'bin':
      return spawn(process.execPath, [...nodeArgs, CLI_BIN, 'serve', '--config', file], options);
    case 'npm-start':
      return spawn('npm', ['start', '--', '--config', file], { ...options, detached: true });
    case 'npm-exec':
      return spawn('npm', ['exec', '--offline', '--', 'cdoc2-keyserver', 'serve', '--config', file], {
        ...options,
        detached: true,
      });
  }
}

export interface ServerProcess {
  readonly capsulePorts: CapsulePorts;
  readonly sharePorts: SharePorts;
  readonly managementPort: number;
  readonly child: ChildProcess;
  /** Everything the process printed on stdout (JSON log lines and the summary). */
  output(): string;
  /** Sends `signal` to the process started (npm itself for the npm launchers) and resolves with its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves with the exit code of the process started. */
  exited(): Promise<number | null>;
}

/**
 * Runs `cdoc2-keyserver serve --config FILE` as its own process, as an operator would, on the given database,
 * with every listener on a free port; resolves once its "started" log line names the ports.
 */
export interface ServerProcessOptions {
  /** The shares server's public base URLs (default: TEST_SHARES_BASE_URL). */
  readonly shareBaseUrls?: readonly string[];
  /** Fixed share ports, for base URLs that must name them (default: any free port). */
  readonly sharePorts?: SharePorts;
  /** How long to wait for the "started" line (several processes starting at once on a busy machine are slow). */
  readonly startTimeoutMs?: number;
  /** `CDOC2_*` configuration variables for the process (every other `CDOC2_*` variable is removed). */
  readonly env?: Readonly<Record<string, string>>;
  /** How to start it (default: from the sources). */
  readonly launcher?: Launcher;
  /** Drop what the process prints after it started (a bench's millions of request log lines). */
  readonly discardOutput?: boolean;
  /** Options for node itself, e.g. `--cpu-prof` (which NODE_OPTIONS does not accept). */
  readonly nodeArgs?: readonly string[];
}

export async function startServerProcess(
  pki: TestPki,
  databaseUrl: string,
  extraYaml: readonly string[] = [],
  options: ServerProcessOptions = {},
): Promise<ServerProcess> {
  const { launcher = 'source', env = {}, startTimeoutMs = 20_000 } = options;
  const dir = mkdtempSync(join(tmpdir(), 'cdoc2-process-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(
    file,
    [
      `database: { url: '${databaseUrl}' }`,
      `tls: { cert: '${pki.serverFiles.cert}', key: '${pki.serverFiles.key}' }`,
      'capsules:',
      `  clientCa: ['${pki.caFile}']`,
      '  ports: { restSender: 0, restRecipient: 0, grpcSender: 0, grpcRecipient: 0 }',
      'shares:',
      `  baseUrls: [${(options.shareBaseUrls ?? [TEST_SHARES_BASE_URL]).map((url) => `'${url}'`).join(', ')}]`,
      `  trustedIssuers: ['${pki.authCaFile}']`,
      `  ports: { rest: ${options.sharePorts?.rest ?? 0}, grpc: ${options.sharePorts?.grpc ?? 0} }`,
      'revocation: { mode: off }',
      'management: { port: 0 }',
      ...extraYaml,
      '',
    ].join('\n'),
  );
  if (launcher === 'bin' || launcher === 'npm-exec') {
    await ensureBuilt();
  }
  const child = launch(launcher, file, env, options.nodeArgs ?? []);
  let out = '';
  let err = '';
  let keep = true;
  child.stdout?.on('data', (chunk: Buffer) => {
    if (keep) {
      out += chunk.toString();
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
  void exited.then(() => rmSync(dir, { recursive: true, force: true }));
  type Started = { capsulePorts: CapsulePorts; sharePorts: SharePorts; managementPort: number };
  const started = await new Promise<Started>((resolveStart, reject) => {
    // npm start builds first (prestart): give it time on a loaded machine.
    const timeoutMs = launcher.startsWith('npm') ? Math.max(startTimeoutMs, 90_000) : startTimeoutMs;
    const timer = setTimeout(() => reject(new Error(`the server did not start: ${err}`)), timeoutMs);
    const look = (): void => {
      for (const line of out.split('\n')) {
        if (line.startsWith('{') && line.includes('"msg":"started"')) {
          clearTimeout(timer);
          child.stdout?.off('data', look);
          keep = options.discardOutput !== true;
          resolveStart(JSON.parse(line) as Started);
          return;
        }
      }
    };
    child.stdout?.on('data', look);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited with ${code} before it started: ${err}`));
    });
  });
  return {
    ...started,
    child,
    output: () => out,
    exited: () => exited,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null) {
        child.kill(signal);
      }
      return exited;
    },
  };
}
