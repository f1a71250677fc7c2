import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DEV_AUTH_SERIAL_NUMBER, type DevPkiPaths } from '../pki/dev-pki.js';
import type { CapsulePorts } from './capsules.js';
import type { SharePorts } from './shares.js';

/** The file name of the development server list, next to the development PKI it pins. */
export const DEV_SERVER_LIST = 'servers.yaml';

/**
 * Writes the trusted server list of the zero-configuration start (seed "Server identification and trust"): this
 * server's listeners under fixed ids, the development CA for chain validation, and this server's certificate pinned.
 * Relative file names are resolved from the list's own directory, so the list stays valid wherever it is read from.
 */
export function writeDevServerList(
  devPki: DevPkiPaths,
  host: string,
  capsulePorts: CapsulePorts | undefined,
  sharePorts: SharePorts | undefined,
): string {
  const file = join(devPki.ca, '..', DEV_SERVER_LIST);
  const entry = (
    id: string,
    capsuleType: string,
    organization: string,
    sender: number,
    recipient: number,
  ): string[] => [
    `  - id: ${id}`,
    `    capsuleType: ${capsuleType}`,
    `    organization: ${organization}`,
    `    senderUrl: https://${host}:${sender}`,
    `    recipientUrl: https://${host}:${recipient}`,
    `    certificates: [${relative(join(file, '..'), devPki.serverCert)}]`,
  ];
  writeFileSync(
    file,
    [
      '# The development server list written by `cdoc2-keyserver serve` (development only): this server, pinned.',
      `ca: [${relative(join(file, '..'), devPki.ca)}]`,
      'servers:',
      ...(capsulePorts
        ? entry('dev-capsules', 'KeyServerCapsule', 'development', capsulePorts.restSender, capsulePorts.restRecipient)
        : []),
      ...(sharePorts ? entry('dev-shares', 'KeySharesCapsule', 'development', sharePorts.rest, sharePorts.rest) : []),
      '',
    ].join('\n'),
  );
  return file;
}

/** How to run cdoc2-client from here: the built file after `npm start`, the source under tsx in development. */
function clientCommand(): string {
  const compiled = __filename.endsWith('.js');
  const cli = join(__dirname, '..', 'client', compiled ? 'cli.js' : 'cli.ts');
  return `${compiled ? 'node' : 'npx tsx'} ${relative(process.cwd(), cli)}`;
}

/** The summary's share round trip with cdoc2-client: split and store a secret, fetch it back with one signature. */
export function devShareRoundTrip(devPki: DevPkiPaths, serverList: string): string[] {
  const path = (file: string): string => relative(process.cwd(), file) || file;
  const description = path(join(devPki.ca, '..', 'share.json'));
  const client = clientCommand();
  return [
    '',
    '  One development server holds the whole secret; production splits it across distinct organizations.',
    '  Store a secret with the client (a random 32-byte key, printed):',
    `    ${client} share put --servers ${path(serverList)} --server dev-shares --allow-single-server \\`,
    `      --recipient etsi/${DEV_AUTH_SERIAL_NUMBER} --out ${description}`,
    '',
    '  Get it back, signed once by the development Smart-ID-like authentication key:',
    `    ${client} share get --servers ${path(serverList)} --in ${description} \\`,
    `      --signer-cert ${path(devPki.authCert)} --signer-key ${path(devPki.authKey)}`,
  ];
}
