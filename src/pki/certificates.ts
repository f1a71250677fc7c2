import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * Issues X.509 certificates with EC (P-256, P-384, P-521) and RSA keys, for the development PKI of the
 * zero-configuration start and for the tests' PKI. @peculiar/x509 does this over WebCrypto; node-forge cannot,
 * because it has no EC support (see README "Dependencies, and why").
 */
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export type KeySpec =
  | { readonly kind: 'ec'; readonly curve: 'P-256' | 'P-384' | 'P-521' }
  | { readonly kind: 'rsa'; readonly bits: number };

export interface IssuedCertificate {
  readonly certificate: x509.X509Certificate;
  readonly certPem: string;
  /** PKCS#8 PEM. */
  readonly keyPem: string;
  readonly keys: webcrypto.CryptoKeyPair;
  readonly signingAlgorithm: webcrypto.Algorithm;
}

export type CertificateProfile = 'ca' | 'server' | 'client';

export interface IssueOptions {
  /** A distinguished name, e.g. `CN=Recipient, serialNumber=PNOEE-30303039914, C=EE`. */
  readonly subject: string;
  readonly key: KeySpec;
  readonly profile: CertificateProfile;
  /** Self-signed when absent. */
  readonly issuer?: IssuedCertificate;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** Overrides the profile's key usage (e.g. a nonRepudiation-only signing certificate). */
  readonly keyUsage?: x509.KeyUsageFlags;
  /** CA path length constraint (profile `ca`). */
  readonly pathLength?: number;
  readonly extraExtensions?: readonly x509.Extension[];
}

const DAY_MS = 86_400_000;

function algorithmsFor(spec: KeySpec): {
  generate: webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams;
  sign: webcrypto.Algorithm;
} {
  if (spec.kind === 'ec') {
    const hash = { 'P-256': 'SHA-256', 'P-384': 'SHA-384', 'P-521': 'SHA-512' }[spec.curve];
    return {
      generate: { name: 'ECDSA', namedCurve: spec.curve },
      sign: { name: 'ECDSA', hash } as webcrypto.EcdsaParams,
    };
  }
  return {
    generate: {
      name: 'RSASSA-PKCS1-v1_5',
      modulusLength: spec.bits,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: 'SHA-256',
    },
    sign: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as webcrypto.RsaHashedImportParams,
  };
}

const pem = (label: string, der: ArrayBuffer): string => {
  const base64 = Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${base64.replace(/\n$/, '')}\n-----END ${label}-----\n`;
};

const PROFILE_KEY_USAGE: Record<CertificateProfile, x509.KeyUsageFlags> = {
  ca: x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
  server: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
  client: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement,
};

const PROFILE_EXTENDED_USAGE: Partial<Record<CertificateProfile, string>> = {
  server: x509.ExtendedKeyUsage.serverAuth,
  client: x509.ExtendedKeyUsage.clientAuth,
};

/** Generates a key pair and a certificate for it, signed by `issuer` (or by itself). */
export async function issueCertificate(options: IssueOptions): Promise<IssuedCertificate> {
  const { generate, sign } = algorithmsFor(options.key);
  const keys = await webcrypto.subtle.generateKey(generate, true, ['sign', 'verify']);
  const notBefore = options.notBefore ?? new Date(Date.now() - DAY_MS);
  const notAfter = options.notAfter ?? new Date(Date.now() + 730 * DAY_MS);
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f; // a positive INTEGER (RFC 5280 4.1.2.2)

  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(
      options.profile === 'ca',
      options.profile === 'ca' ? options.pathLength : undefined,
      true,
    ),
    new x509.KeyUsagesExtension(options.keyUsage ?? PROFILE_KEY_USAGE[options.profile], true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  const extendedUsage = PROFILE_EXTENDED_USAGE[options.profile];
  if (extendedUsage && options.keyUsage === undefined) {
    extensions.push(new x509.ExtendedKeyUsageExtension([extendedUsage]));
  }
  const altNames = [
    ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  if (altNames.length > 0) {
    extensions.push(new x509.SubjectAlternativeNameExtension(altNames));
  }
  if (options.issuer) {
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(options.issuer.keys.publicKey));
  }
  extensions.push(...(options.extraExtensions ?? []));

  const issuer = options.issuer;
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serial.toString('hex'),
    subject: options.subject,
    issuer: issuer ? issuer.certificate.subject : options.subject,
    notBefore,
    notAfter,
    signingAlgorithm: issuer ? issuer.signingAlgorithm : sign,
    publicKey: keys.publicKey,
    signingKey: issuer ? issuer.keys.privateKey : keys.privateKey,
    extensions,
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    certificate,
    certPem: certificate.toString('pem') + '\n',
    keyPem: pem('PRIVATE KEY', pkcs8),
    keys,
    signingAlgorithm: sign,
  };
}
