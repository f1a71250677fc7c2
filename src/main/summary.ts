import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { DEV_AUTH_SERIAL_NUMBER, type DevPkiPaths } from '../pki/dev-pki.js';
import { devShareRoundTrip } from './dev-client.js';
import type { CapsulePorts } from './capsules.js';
import type { SharePorts } from './shares.js';

/** The URL host for a bind address: the development certificate is issued for `localhost`. */
const urlHost = (host: string): string =>
  host === '0.0.0.0' || host === '127.0.0.1' || host === '::' || host === '::1' ? 'localhost' : host;

/** An uncompressed P-256 point (0x04 || X || Y) of a certificate or key, base64. */
function p256Point(jwk: { x?: string; y?: string }): string {
  return Buffer.concat([
    Buffer.from([4]),
    Buffer.from(jwk.x ?? '', 'base64url'),
    Buffer.from(jwk.y ?? '', 'base64url'),
  ]).toString('base64');
}

/**
 * The start-up summary for people: where each listener is and, in the zero-configuration start, `curl` commands
 * that store a capsule for the development client certificate and fetch it back (README "The two commands").
 */
export function formatSummary(options: {
  host: string;
  capsulePorts: CapsulePorts | undefined;
  sharePorts: SharePorts | undefined;
  management: { host: string; port: number } | undefined;
  devPki: DevPkiPaths | undefined;
  /** The development server list written for cdoc2-client (zero-configuration start only). */
  serverList?: string | undefined;
  database: string;
}): string {
  const { capsulePorts, sharePorts, devPki } = options;
  const host = urlHost(options.host);
  const lines = ['', 'cdoc2-keyserver is running', `  database: ${options.database}`];
  if (capsulePorts) {
    lines.push(
      '  key capsule server:',
      `    REST sender     https://${host}:${capsulePorts.restSender}/key-capsules`,
      `    REST recipient  https://${host}:${capsulePorts.restRecipient}/key-capsules/{transactionId}  (mutual TLS)`,
      `    gRPC sender     ${host}:${capsulePorts.grpcSender}  cdoc2.capsules.v1.KeyCapsuleSenderService`,
      `    gRPC recipient  ${host}:${capsulePorts.grpcRecipient}  cdoc2.capsules.v1.KeyCapsuleRecipientService  (mutual TLS)`,
    );
  }
  if (sharePorts) {
    lines.push(
      '  shares server (CSS):',
      `    REST            https://${host}:${sharePorts.rest}/key-shares`,
      `    gRPC            ${host}:${sharePorts.grpc}  cdoc2.shares.v1.KeyShareSenderService, KeyShareRecipientService`,
    );
  }
  if (options.management) {
    const { host: managementHost, port } = options.management;
    lines.push(
      '  operations:',
      `    health          http://${managementHost}:${port}/health/live, /health/ready`,
      `    metrics, info   http://${managementHost}:${port}/metrics, /info`,
    );
  }
  if (devPki && capsulePorts) {
    const path = (file: string): string => relative(process.cwd(), file) || file;
    const clientKey = new X509Certificate(readFileSync(devPki.clientCert)).publicKey.export({ format: 'jwk' });
    const ephemeral = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'jwk' });
    const body = JSON.stringify({
      recipient_id: p256Point(clientKey),
      ephemeral_key_material: p256Point(ephemeral),
      capsule_type: 'ecc_secp256r1',
    });
    lines.push(
      '',
      `  development PKI in ${path(devPki.ca).replace(/\/ca\.pem$/, '')} (never use it in production)`,
      '',
      '  Store a capsule for the development client certificate (the Location header holds its id):',
      `    curl -si --cacert ${path(devPki.ca)} -H 'content-type: application/json' \\`,
      `      -d '${body}' \\`,
      `      https://${host}:${capsulePorts.restSender}/key-capsules`,
      '',
      '  Fetch it with that certificate (put the id from Location in place of KC...):',
      `    curl -s --cacert ${path(devPki.ca)} --cert ${path(devPki.clientCert)} --key ${path(devPki.clientKey)} \\`,
      `      https://${host}:${capsulePorts.restRecipient}/key-capsules/KC...`,
    );
  }
  if (devPki && sharePorts) {
    const path = (file: string): string => relative(process.cwd(), file) || file;
    const share = JSON.stringify({
      share: randomBytes(32).toString('base64'),
      recipient: `etsi/${DEV_AUTH_SERIAL_NUMBER}`,
    });
    lines.push(
      '',
      '  Store a key share (the Location header holds its id):',
      `    curl -si --cacert ${path(devPki.ca)} -H 'content-type: application/json' \\`,
      `      -d '${share}' \\`,
      `      https://${host}:${sharePorts.rest}/key-shares`,
      '',
      '  Get a one-time nonce for it (put the id from Location in place of SHARE_ID):',
      `    curl -s --cacert ${path(devPki.ca)} -X POST https://${host}:${sharePorts.rest}/key-shares/SHARE_ID/nonce`,
      ...(options.serverList ? devShareRoundTrip(devPki, options.serverList) : []),
    );
  }
  lines.push('');
  return lines.join('\n');
}
