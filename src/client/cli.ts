#!/usr/bin/env node
import { randomBytes, X509Certificate, createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { CapsuleType } from '../domain/capsules/capsule-types.js';
import { ClientError, InvalidRequestError, type ClientErrorKind } from './errors.js';
import { pemIdentity, pkcs12Identity, type ClientIdentity } from './identity.js';
import { createKeyServerClient, type KeyServerClient } from './key-server-client.js';
import { parseSharedSecret, type ShareProgress } from './shares.js';
import { softwareSignerFromFiles } from './signer.js';

/**
 * `cdoc2-client`: the client library for a person at a terminal (README "Client library and CLI"). Results go to
 * stdout (text, or one JSON object with --json), progress of multi-server operations and errors to stderr.
 */
const NAME = 'cdoc2-client';

/** Exit codes, one per typed error kind (README lists them). */
export const EXIT_CODES: Readonly<Record<ClientErrorKind | 'ok' | 'usage' | 'other', number>> = {
  ok: 0,
  other: 1,
  usage: 2,
  invalid_server_list: 2,
  invalid_request: 2,
  not_found: 3,
  not_authorized: 4,
  server_not_trusted: 5,
  organization_duplicate: 6,
  threshold_not_met: 7,
  unavailable: 8,
  server_error: 9,
};

/** A mistake in the command line: one line on stderr, exit 2. */
class UsageError extends Error {
  override readonly name = 'UsageError';
}

const COMMON_OPTIONS = `
  --servers FILE     the trusted server list (YAML or JSON)
  --timeout SECONDS  deadline of each call (default 10)
  --json             print the result as one JSON object
  -h, --help         this help`;

const HELP: Readonly<Record<string, string>> = {
  '': `usage: ${NAME} <command> [options]

commands:
  capsule put   store a key capsule on a key capsule server
  capsule get   fetch a key capsule with a client certificate (mutual TLS)
  share put     split a secret and store one share on each of several shares servers
  share get     fetch the shares with one signature and recombine the secret

${NAME} <command> --help shows the options of a command; ${NAME} --version the version.
exit codes: 0 ok, 1 unexpected failure, 2 usage or invalid input, 3 not found, 4 not authorized,
  5 server not trusted (certificate not pinned or invalid), 6 two servers of one organization,
  7 threshold not met, 8 server unavailable or deadline passed, 9 server error
`,
  'capsule put': `usage: ${NAME} capsule put --servers FILE --server ID --recipient FILE --ephemeral-key-material BASE64 [options]

Stores a key capsule for the holder of the recipient key and prints its transaction id. Not retried: a create is
not idempotent, a retry after a lost answer would store a second capsule.

  --server ID                      the key capsule server's id in the list
  --recipient FILE                 the recipient's certificate or public key (PEM); sets the capsule type
  --ephemeral-key-material BASE64  the sender's ephemeral public key (EC) or the encrypted KEK (RSA)
  --expiry TIME                    requested expiry, RFC 3339 (the server clamps it to its maximum)${COMMON_OPTIONS}
`,
  'capsule get': `usage: ${NAME} capsule get --servers FILE --server ID --transaction-id ID (--cert FILE --key FILE | --pkcs12 FILE) [options]

Fetches a capsule over mutual TLS; retried on UNAVAILABLE.

  --server ID           the key capsule server's id in the list
  --transaction-id ID   the capsule's transaction id (KC...)
  --cert FILE --key FILE  the recipient's client certificate and key, PEM
  --pkcs12 FILE         or both in a PKCS#12 file; its passphrase in the environment variable CDOC2_PKCS12_PASSPHRASE${COMMON_OPTIONS}
`,
  'share put': `usage: ${NAME} share put --servers FILE --server ID --server ID ... --recipient ID --out FILE [options]

Splits a secret n-of-n (XOR) or t-of-n (Shamir) and stores one share on each server; the servers must be run by
distinct organizations. Writes the description the recipient needs (servers, share ids, scheme) to --out.

  --server ID            a shares server's id in the list (repeat, one per share)
  --recipient ID         etsi/PNOEE-... (the person's identity code) or private/<vendor>/<id>
  --out FILE             where to write the description of the shares (JSON)
  --secret HEX           the secret (KEK); default: 32 random bytes, printed
  --threshold T          t-of-n Shamir instead of n-of-n XOR
  --allow-single-server  allow one server (it then holds the whole secret): development only
  --expiry TIME          requested expiry of the shares, RFC 3339${COMMON_OPTIONS}
`,
  'share get': `usage: ${NAME} share get --servers FILE --in FILE --signer-cert FILE --signer-key FILE [options]

Asks each server for a nonce, signs ONE auth ticket naming all of them, shows each server only its own part,
and prints the recombined secret (hex).

  --in FILE           the description written by share put
  --signer-cert FILE  the authentication certificate (PEM) of the recipient
  --signer-key FILE   its private key (PEM): a software signer, for development and tests${COMMON_OPTIONS}
`,
};

const OPTIONS = {
  servers: { type: 'string' },
  server: { type: 'string', multiple: true },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  recipient: { type: 'string' },
  'ephemeral-key-material': { type: 'string' },
  expiry: { type: 'string' },
  'transaction-id': { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  pkcs12: { type: 'string' },
  out: { type: 'string' },
  in: { type: 'string' },
  secret: { type: 'string' },
  threshold: { type: 'string' },
  'allow-single-server': { type: 'boolean' },
  'signer-cert': { type: 'string' },
  'signer-key': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

const required = (values: Values, name: keyof Values): string => {
  const value = values[name];
  if (typeof value !== 'string' || value === '') {
    throw new UsageError(`--${name} is required`);
  }
  return value;
};

const onlyOne = (values: Values, name: 'server'): string => {
  const list = values[name] ?? [];
  if (list.length !== 1 || !list[0]) {
    throw new UsageError(`give exactly one --${name}`);
  }
  return list[0];
};

function parseTime(text: string | undefined): Date | undefined {
  if (text === undefined) {
    return undefined;
  }
  const time = new Date(text);
  if (!/^\d{4}-\d\d-\d\dT/.test(text) || Number.isNaN(time.getTime())) {
    throw new UsageError(`--expiry must be an RFC 3339 date-time, e.g. 2030-01-01T00:00:00Z (got "${text}")`);
  }
  return time;
}

function clientFrom(values: Values): KeyServerClient {
  const timeout = values.timeout === undefined ? 10 : Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) {
    throw new UsageError('--timeout must be a positive number of seconds');
  }
  return createKeyServerClient({ servers: required(values, 'servers'), timeoutMs: timeout * 1000 });
}

/** The capsule's recipient id and type from a certificate or public key: EC point 0x04||X||Y, or RSA PKCS#1. */
function recipientKey(file: string): { recipientId: Buffer; capsuleType: CapsuleType } {
  let key: KeyObject;
  try {
    const text = readFileSync(file, 'utf8');
    key = text.includes('CERTIFICATE') ? new X509Certificate(text).publicKey : createPublicKey(text);
  } catch (error) {
    throw new InvalidRequestError(
      `--recipient: ${file} is not a PEM certificate or public key (${(error as Error).message})`,
    );
  }
  if (key.asymmetricKeyType === 'rsa') {
    return { recipientId: key.export({ type: 'pkcs1', format: 'der' }), capsuleType: 'rsa' };
  }
  const curves: Record<string, [CapsuleType, number]> = {
    prime256v1: ['ecc_secp256r1', 32],
    secp384r1: ['ecc_secp384r1', 48],
    secp521r1: ['ecc_secp521r1', 66],
  };
  const curve = curves[key.asymmetricKeyDetails?.namedCurve ?? ''];
  if (key.asymmetricKeyType !== 'ec' || !curve) {
    throw new InvalidRequestError('--recipient: the key must be RSA or EC P-256, P-384 or P-521');
  }
  const [capsuleType, size] = curve;
  const jwk = key.export({ format: 'jwk' });
  const coordinate = (value: string | undefined): Buffer => {
    const bytes = Buffer.from(value ?? '', 'base64url');
    return Buffer.concat([Buffer.alloc(size - bytes.length), bytes]);
  };
  return { recipientId: Buffer.concat([Buffer.from([4]), coordinate(jwk.x), coordinate(jwk.y)]), capsuleType };
}

function identityFrom(values: Values): ClientIdentity {
  if (values.pkcs12 !== undefined) {
    if (values.cert !== undefined || values.key !== undefined) {
      throw new UsageError('give either --pkcs12 or --cert and --key');
    }
    return pkcs12Identity(values.pkcs12, process.env['CDOC2_PKCS12_PASSPHRASE']);
  }
  return pemIdentity(required(values, 'cert'), required(values, 'key'));
}

type Output = (text: string, json: Record<string, unknown>) => void;

const progressLine = (progress: ShareProgress): string => {
  switch (progress.step) {
    case 'stored':
      return `${progress.server}: share stored`;
    case 'nonce':
      return `${progress.server}: nonce received`;
    case 'signed':
      return `ticket signed once for ${progress.servers.join(', ')}`;
    case 'fetched':
      return `${progress.server}: share received`;
    case 'failed':
      return `${progress.server}: ${progress.error.message}`;
  }
};

const report = (progress: ShareProgress): void => {
  process.stderr.write(`${NAME}: ${progressLine(progress)}\n`);
};

async function capsulePut(values: Values, output: Output): Promise<void> {
  const server = onlyOne(values, 'server');
  const { recipientId, capsuleType } = recipientKey(required(values, 'recipient'));
  const material = required(values, 'ephemeral-key-material');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(material)) {
    throw new UsageError('--ephemeral-key-material must be standard base64');
  }
  const expiry = parseTime(values.expiry);
  const created = await clientFrom(values).createCapsule(
    server,
    { recipientId, ephemeralKeyMaterial: Buffer.from(material, 'base64'), capsuleType },
    expiry ? { expiry } : {},
  );
  output(created.transactionId, {
    server,
    transactionId: created.transactionId,
    expiryTime: created.expiryTime?.toISOString() ?? null,
  });
}

async function capsuleGet(values: Values, output: Output): Promise<void> {
  const server = onlyOne(values, 'server');
  const transactionId = required(values, 'transaction-id');
  const capsule = await clientFrom(values).getCapsule(server, transactionId, identityFrom(values));
  const json = {
    recipient_id: Buffer.from(capsule.recipientId).toString('base64'),
    ephemeral_key_material: Buffer.from(capsule.ephemeralKeyMaterial).toString('base64'),
    capsule_type: capsule.capsuleType,
  };
  output(
    Object.entries(json)
      .map(([name, value]) => `${name}: ${value}`)
      .join('\n'),
    { server, transactionId, ...json, expiryTime: capsule.expiryTime?.toISOString() ?? null },
  );
}

async function sharePut(values: Values, output: Output): Promise<void> {
  const servers = values.server ?? [];
  if (servers.length === 0) {
    throw new UsageError('give one --server per share');
  }
  const out = required(values, 'out');
  let secret: Buffer;
  if (values.secret === undefined) {
    secret = randomBytes(32);
  } else if (/^([0-9a-fA-F]{2})+$/.test(values.secret)) {
    secret = Buffer.from(values.secret, 'hex');
  } else {
    throw new UsageError('--secret must be hexadecimal');
  }
  let threshold: number | undefined;
  if (values.threshold !== undefined) {
    threshold = Number(values.threshold);
    if (!Number.isInteger(threshold)) {
      throw new UsageError('--threshold must be a whole number');
    }
  }
  const expiry = parseTime(values.expiry);
  const shared = await clientFrom(values).storeSecret({
    secret,
    recipient: required(values, 'recipient'),
    servers,
    ...(threshold === undefined ? {} : { scheme: { kind: 'shamir', threshold } }),
    ...(expiry ? { expiry } : {}),
    allowSingleServer: values['allow-single-server'] ?? false,
    onProgress: report,
  });
  writeFileSync(out, `${JSON.stringify(shared, null, 2)}\n`);
  const generated = values.secret === undefined ? secret.toString('hex') : undefined;
  output(
    [
      `stored ${shared.shares.length} shares (${shared.scheme}, ${shared.threshold} needed); description in ${out}`,
      ...(generated ? [`secret ${generated}`] : []),
    ].join('\n'),
    { description: out, ...shared, ...(generated ? { secret: generated } : {}) },
  );
}

async function shareGet(values: Values, output: Output): Promise<void> {
  const file = required(values, 'in');
  let description: unknown;
  try {
    description = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new InvalidRequestError(`--in: cannot read ${file} as JSON (${(error as Error).message})`);
  }
  const secret = await clientFrom(values).fetchSecret({
    secret: parseSharedSecret(description),
    signer: softwareSignerFromFiles(required(values, 'signer-cert'), required(values, 'signer-key')),
    onProgress: report,
  });
  const hex = Buffer.from(secret).toString('hex');
  output(hex, { secret: hex });
}

const COMMANDS: Readonly<Record<string, (values: Values, output: Output) => Promise<void>>> = {
  'capsule put': capsulePut,
  'capsule get': capsuleGet,
  'share put': sharePut,
  'share get': shareGet,
};

/** The package's version: package.json is the first one above this file, in src/ and in dist/ alike. */
function version(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    }
    if (dirname(dir) === dir) {
      return 'unknown';
    }
  }
}

/** Runs one command line; resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    process.stderr.write(`${NAME}: ${(error as Error).message}\n`);
    return EXIT_CODES.usage;
  }
  const { values, positionals } = parsed;
  const command = positionals.slice(0, 2).join(' ');
  if (values.version) {
    process.stdout.write(`${NAME} ${version()}\n`);
    return EXIT_CODES.ok;
  }
  const run = COMMANDS[command];
  if (values.help || positionals.length === 0) {
    process.stdout.write(HELP[run ? command : ''] ?? '');
    return EXIT_CODES.ok;
  }
  if (!run || positionals.length > 2) {
    process.stderr.write(`${NAME}: unknown command "${positionals.join(' ')}" (${NAME} --help lists them)\n`);
    return EXIT_CODES.usage;
  }
  const output: Output = (text, json) => process.stdout.write(values.json ? `${JSON.stringify(json)}\n` : `${text}\n`);
  try {
    await run(values, output);
    return EXIT_CODES.ok;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${NAME} ${command}: ${error.message}\n`);
      return EXIT_CODES.usage;
    }
    if (error instanceof ClientError) {
      process.stderr.write(`${NAME} ${command}: ${error.message}\n`);
      if (values.json) {
        process.stdout.write(
          `${JSON.stringify({ error: error.kind, message: error.message, server: error.serverId ?? null })}\n`,
        );
      }
      return EXIT_CODES[error.kind];
    }
    process.stderr.write(`${NAME} ${command}: unexpected failure: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT_CODES.other;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
