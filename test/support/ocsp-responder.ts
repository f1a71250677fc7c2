import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IssuedCertificate } from '../../src/pki/certificates.js';

/**
 * A real OCSP responder (RFC 6960) for tests: `openssl ocsp -port` (OpenSSL 3.x) over an OpenSSL CA database
 * (`index.txt`). What to know about it:
 * - it serves one connection at a time; a client that connects and sends nothing holds up every other client
 *   until `-timeout` (requestTimeoutSeconds) drops it;
 * - a client that connects and closes (or half-closes) without sending a single byte wedges it for good: it spins at
 *   100% CPU and answers nobody, `-timeout` or not (OpenSSL 3.0.19). Only stop() helps;
 * - it listens on all interfaces (`[::]`, dual stack), not only on 127.0.0.1;
 * - it re-reads index.txt when the file changes, but only after the next request, so `update()` pokes it;
 * - nextUpdate is only in the responses when `-nmin` (nextUpdateMinutes) is given;
 * - certificates absent from the index, or whose issuer is not `issuer`, are answered "unknown".
 */

export type OcspIndexStatus = 'good' | 'revoked';

/** The CRL reason names OpenSSL's CA database accepts without an extra argument. */
export type OcspRevocationReason =
  | 'unspecified'
  | 'keyCompromise'
  | 'CACompromise'
  | 'affiliationChanged'
  | 'superseded'
  | 'cessationOfOperation'
  | 'certificateHold'
  | 'removeFromCRL';

export interface OcspIndexEntry {
  readonly certificate: IssuedCertificate;
  readonly status: OcspIndexStatus;
  /** Revoked entries only; an hour ago when absent. */
  readonly revokedAt?: Date;
  /** Revoked entries only; the response carries no reason when absent. */
  readonly reason?: OcspRevocationReason;
}

export interface OcspResponderOptions {
  /** The parent of the responder's own temporary directory (the OS's temporary directory when absent). */
  readonly dir?: string;
  /** The CA whose certificates the responder answers for (`-CA`). */
  readonly issuer: IssuedCertificate;
  /** Signs the responses (`-rsigner`, `-rkey`): the issuer itself, a delegated responder or a rogue one. */
  readonly signer: IssuedCertificate;
  readonly entries: readonly OcspIndexEntry[];
  /** `-nmin`: responses carry nextUpdate = thisUpdate + this many minutes; no nextUpdate when absent. */
  readonly nextUpdateMinutes?: number;
  /** A fixed port (e.g. one chosen with findFreePort() for the AIA URL, or a stopped responder's); any when absent. */
  readonly port?: number;
  /** `-timeout`: how long a connection may take to send its request before it is dropped. Default 5. */
  readonly requestTimeoutSeconds?: number;
  /** More `openssl ocsp` arguments, e.g. `['-resp_no_certs']`, `['-resp_key_id']`, `['-rmd', 'sha512']`. */
  readonly extraArgs?: readonly string[];
}

export interface OcspResponder {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** The responder's own temporary directory (index.txt, openssl's output); removed by stop(). */
  readonly dir: string;
  readonly indexFile: string;
  /** How many OCSP requests (HTTP GET or POST) the responder has received so far. */
  requests(): number;
  /** openssl's stderr so far: one line per request received, and any errors. */
  log(): string;
  /** Replaces the index (e.g. to revoke a certificate); the next request already sees the new statuses. */
  update(entries: readonly OcspIndexEntry[]): Promise<void>;
  /** Kills openssl, waits for it to exit and removes `dir`. Idempotent. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const HOUR_MS = 3_600_000;

/** OpenSSL's one-line names for the attribute types whose short name @peculiar/x509 leaves as an OID. */
const ONELINE_NAMES: Readonly<Record<string, string>> = {
  '2.5.4.5': 'serialNumber',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '2.5.4.42': 'GN',
  '2.5.4.4': 'SN',
};

/** A date as the CA database writes it: UTCTime `YYMMDDHHMMSSZ`, GeneralizedTime `YYYYMMDDHHMMSSZ` from 2050. */
export function formatIndexTime(date: Date): string {
  const full = date
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d{3}Z$/, 'Z'); // YYYYMMDDHHMMSSZ
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050 ? full.slice(2) : full;
}

/** The serial number as the CA database holds it: upper-case hex of the (positive) value, an even number of digits. */
export function indexSerial(certificate: IssuedCertificate): string {
  const digits = certificate.certificate.serialNumber.toUpperCase().replace(/^(?:00)+/, '');
  return digits === '' ? '00' : digits.length % 2 === 1 ? `0${digits}` : digits;
}

/** The subject in OpenSSL's one-line form (`/CN=…/O=…`). Informational: the responder looks entries up by serial. */
export function indexSubject(certificate: IssuedCertificate): string {
  return certificate.certificate.subjectName
    .toJSON()
    .flatMap((rdn) =>
      Object.entries(rdn).flatMap(([type, values]) =>
        values.map((value) => `/${ONELINE_NAMES[type] ?? type}=${value.replace(/[\t\r\n]/g, ' ')}`),
      ),
    )
    .join('');
}

/**
 * One line of index.txt, six tab-separated fields: status (V or R), expiry, revocation date[,reason] (empty for V),
 * serial, file name (always `unknown`), subject.
 */
export function formatIndexLine(entry: OcspIndexEntry): string {
  const { certificate, status } = entry;
  let revocation = '';
  if (status === 'revoked') {
    revocation = formatIndexTime(entry.revokedAt ?? new Date(Date.now() - HOUR_MS));
    if (entry.reason !== undefined) {
      revocation += `,${entry.reason}`;
    }
  }
  return [
    status === 'good' ? 'V' : 'R',
    formatIndexTime(certificate.certificate.notAfter),
    revocation,
    indexSerial(certificate),
    'unknown',
    indexSubject(certificate),
  ].join('\t');
}

/**
 * Writes `index.txt` and `index.txt.attr` (unique_subject = no: several entries may share a subject) into `dir`,
 * replacing index.txt atomically so that a running responder notices the change. Returns index.txt's path.
 */
export function writeOcspIndex(dir: string, entries: readonly OcspIndexEntry[]): string {
  const indexFile = join(dir, 'index.txt');
  writeFileSync(`${indexFile}.attr`, 'unique_subject = no\n');
  const next = join(dir, 'index.txt.new');
  writeFileSync(next, entries.map((entry) => `${formatIndexLine(entry)}\n`).join(''));
  renameSync(next, indexFile);
  return indexFile;
}

/** A port that was free a moment ago (listen on port 0, close): for an AIA URL that must be known in advance. */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') {
          resolve(address.port);
        } else {
          reject(new Error('no port'));
        }
      });
    });
  });
}

/**
 * Sends an empty line, which openssl rejects and closes, and waits for that close: openssl has then gone round its
 * loop once. Never send nothing: a connection closed before its first byte sets openssl 3.0 spinning for good.
 */
function poke(port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer on 127.0.0.1:${port}`)));
    socket.once('connect', () => socket.end('\r\n'));
    socket.once('error', reject);
    socket.once('close', (hadError) => {
      if (!hadError) {
        resolve();
      }
    });
    socket.resume();
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Responders still running, killed if the test process exits without stopping them. */
const live = new Map<ChildProcess, string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) {
    return;
  }
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const [child, dir] of live) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/** Starts `openssl ocsp` as a responder and resolves once it accepts connections on 127.0.0.1. */
export async function startOcspResponder(options: OcspResponderOptions): Promise<OcspResponder> {
  const parent = options.dir ?? tmpdir();
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join(parent, 'ocsp-responder-'));
  const file = (name: string, content: string, mode = 0o644) => {
    const path = join(dir, name);
    writeFileSync(path, content, { mode });
    return path;
  };
  const indexFile = writeOcspIndex(dir, options.entries);
  const args = [
    'ocsp',
    '-index',
    indexFile,
    '-port',
    String(options.port ?? 0),
    '-CA',
    file('issuer.pem', options.issuer.certPem),
    '-rsigner',
    file('signer.pem', options.signer.certPem),
    '-rkey',
    file('signer-key.pem', options.signer.keyPem, 0o600),
    '-timeout',
    String(options.requestTimeoutSeconds ?? 5),
    '-ignore_err',
    ...(options.nextUpdateMinutes === undefined ? [] : ['-nmin', String(options.nextUpdateMinutes)]),
    ...(options.extraArgs ?? []),
  ];
  // Files rather than pipes: requests() reads the log synchronously, and openssl writes a request's log line
  // before it answers, so a client that has its answer always finds the request counted.
  const stdoutFile = join(dir, 'stdout.log');
  const stderrFile = join(dir, 'stderr.log');
  const stdoutFd = openSync(stdoutFile, 'w');
  const stderrFd = openSync(stderrFile, 'w');
  let child: ChildProcess;
  try {
    child = spawn('openssl', args, { cwd: dir, stdio: ['ignore', stdoutFd, stderrFd] });
  } finally {
    closeSync(stdoutFd);
    closeSync(stderrFd);
  }
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return '';
    }
  };
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      live.delete(child);
      resolve();
    });
    child.once('error', (error) => {
      spawnError = error;
      live.delete(child);
      resolve();
    });
  });
  live.set(child, dir);
  installExitHook();
  // A forgotten stop() must not keep mocha (run without --exit) alive; the exit hook kills openssl then.
  child.unref();

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (exit === undefined && spawnError === undefined) {
        child.kill('SIGTERM');
        // The timer is cleared once openssl exits, so that it does not hold mocha open for STOP_TIMEOUT_MS.
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), STOP_TIMEOUT_MS);
        });
        const killed = await Promise.race([exited.then(() => true), timedOut]);
        clearTimeout(timer);
        if (!killed) {
          child.kill('SIGKILL');
          await exited;
        }
      }
      rmSync(dir, { recursive: true, force: true });
    })());

  // openssl (3.x) prints `ACCEPT [::]:<port> PID=<pid>` once it listens; with `-port 0` that is how the port is known.
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let port: number | undefined;
  let ready = false;
  let lastError: unknown;
  while (!ready && Date.now() < deadline && exit === undefined && spawnError === undefined) {
    const accept = /^ACCEPT .*:(\d+) PID=\d+/m.exec(read(stdoutFile));
    port ??= accept?.[1] === undefined ? undefined : Number(accept[1]);
    if (port !== undefined) {
      try {
        await poke(port, Math.max(100, deadline - Date.now()));
        ready = true;
        continue;
      } catch (error) {
        lastError = error;
      }
    }
    await sleep(10);
  }
  if (!ready || port === undefined) {
    const why =
      spawnError?.message ??
      (exit === undefined
        ? `not accepting connections after ${READY_TIMEOUT_MS} ms${lastError instanceof Error ? ` (${lastError.message})` : ''}`
        : `exited with ${exit.code ?? exit.signal ?? '?'}`);
    const stderr = read(stderrFile);
    const stdout = read(stdoutFile);
    await stop();
    throw new Error(`openssl ${args.join(' ')}: ${why}\nstderr:\n${stderr}\nstdout:\n${stdout}`);
  }
  const readyPort = port;

  return {
    url: `http://127.0.0.1:${readyPort}`,
    port: readyPort,
    dir,
    indexFile,
    requests: () => (read(stderrFile).match(/^ocsp: Received request, 1st line: (?:GET|POST) /gm) ?? []).length,
    log: () => read(stderrFile),
    update: async (entries) => {
      writeOcspIndex(dir, entries);
      // openssl checks the index for changes before it waits for a connection, so the first request after a
      // change would still get the old statuses: an empty connection makes it go round its loop once.
      await poke(readyPort, READY_TIMEOUT_MS);
    },
    stop,
  };
}
