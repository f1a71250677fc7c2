import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { CapsulePorts, SharePorts } from '../../src/main/app.js';
import { TEST_SHARES_BASE_URL } from './test-server.js';
import type { TestPki } from './test-pki.js';

const CLI = resolve(__dirname, '../../src/main/cli.ts');
const TSX = require.resolve('tsx/cjs');

export interface ServerProcess {
  readonly capsulePorts: CapsulePorts;
  readonly sharePorts: SharePorts;
  readonly child: ChildProcess;
  /** Everything the process printed on stdout (JSON log lines and the summary). */
  output(): string;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
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
  const child = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), '--require', TSX, CLI, 'serve', '--config', file],
    {
      env: {
        ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CDOC2_'))),
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
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
  const started = await new Promise<{ capsulePorts: CapsulePorts; sharePorts: SharePorts }>((resolveStart, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the server did not start: ${err}`)),
      options.startTimeoutMs ?? 20_000,
    );
    const look = (): void => {
      for (const line of out.split('\n')) {
        if (line.startsWith('{') && line.includes('"msg":"started"')) {
          clearTimeout(timer);
          child.stdout?.off('data', look);
          keep = options.discardOutput !== true;
          resolveStart(JSON.parse(line) as { capsulePorts: CapsulePorts; sharePorts: SharePorts });
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
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null) {
        child.kill(signal);
      }
      const code = await exited;
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}
