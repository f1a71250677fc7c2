import { resolve } from 'node:path';
import { ensureDevPki, type DevPkiPaths } from '../pki/dev-pki.js';
import type { ServerIdentity } from '../transport/tls/tls-material.js';
import type { Config } from './config-schema.js';
import { ConfigError, type LoadedConfig } from './load-config.js';
import { readCertificateBundle, readServerIdentity } from './tls-files.js';

/** The key material the configuration names, read from disk and checked once, before anything starts. */
export interface TlsMaterial {
  readonly identity: ServerIdentity;
  /** Issuers of recipients' client certificates (empty when the capsule server is disabled). */
  readonly clientCa: readonly Buffer[];
  /** Issuers of authentication certificates (empty when the shares server is disabled). */
  readonly trustedIssuers: readonly Buffer[];
}

/** The configuration as the servers are built from it: every default applied, every file read and checked. */
export type ResolvedConfig = Omit<Config, 'tls'> & {
  readonly tls: NonNullable<Config['tls']>;
  readonly material: TlsMaterial;
  /** The development PKI of the zero-configuration start; undefined otherwise. */
  readonly devPki: DevPkiPaths | undefined;
};

/** Where the zero-configuration start keeps its development PKI (README "Configuration", development mode). */
export const DEV_PKI_DIR = resolve('var', 'dev-pki');

/**
 * The development defaults: without a configuration file and without `tls`, the server runs on a development PKI
 * it creates itself, trusts its CA for client certificates and its authentication CA for ticket signers, and names
 * its own shares listener.
 */
function withDevDefaults(config: Config, devPki: DevPkiPaths): Config {
  return {
    ...config,
    tls: { cert: devPki.serverCert, key: devPki.serverKey },
    capsules: {
      ...config.capsules,
      clientCa: config.capsules.clientCa.length > 0 ? config.capsules.clientCa : [devPki.ca],
    },
    // The development PKI has no OCSP responder; hard-fail would refuse every certificate.
    revocation: { ...config.revocation, mode: 'off' },
    shares: {
      ...config.shares,
      baseUrls:
        config.shares.baseUrls.length > 0 ? config.shares.baseUrls : [`https://localhost:${config.shares.ports.rest}`],
      trustedIssuers: config.shares.trustedIssuers.length > 0 ? config.shares.trustedIssuers : [devPki.authCa],
    },
  };
}

/**
 * Turns a loaded configuration into the one the servers are built from: the development defaults where they
 * apply, the cross-field rules, and the TLS material read and checked. Every decision about configuration is
 * taken here or in loadConfig; `main` only wires what this returns.
 */
export async function resolveConfig(
  { config: loaded, file }: LoadedConfig,
  { devPkiDir = DEV_PKI_DIR }: { devPkiDir?: string } = {},
): Promise<ResolvedConfig> {
  const devPki = file || loaded.tls ? undefined : (await ensureDevPki(devPkiDir)).paths;
  const config = devPki ? withDevDefaults(loaded, devPki) : loaded;
  const { tls } = config;
  if (!tls) {
    throw new ConfigError('tls: required (cert and key of this server)');
  }
  const material: TlsMaterial = {
    identity: readServerIdentity(tls),
    clientCa: config.capsules.enabled ? readCertificateBundle('capsules.clientCa', config.capsules.clientCa) : [],
    trustedIssuers: config.shares.enabled
      ? readCertificateBundle('shares.trustedIssuers', config.shares.trustedIssuers)
      : [],
  };
  return { ...config, tls, material, devPki };
}
