import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from './load-config.js';
import { splitPemCertificates } from '../pki/pem.js';
import { checkServerIdentity, type ServerIdentity } from '../transport/tls/tls-material.js';

function readKeyFile(key: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new ConfigError(`${key}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** Reads and checks this server's certificate chain and key (config `tls`). */
export function readServerIdentity(tls: { cert: string; key: string }): ServerIdentity {
  const identity = { certChain: readKeyFile('tls.cert', tls.cert), privateKey: readKeyFile('tls.key', tls.key) };
  const problem = checkServerIdentity(identity);
  if (problem) {
    throw new ConfigError(problem);
  }
  return identity;
}

/** Reads trust-anchor files (each may hold several PEM certificates) into one certificate per buffer. */
export function readCertificateBundle(key: string, files: readonly string[]): Buffer[] {
  return files.flatMap((file, index) => {
    const certificates = splitPemCertificates(readKeyFile(`${key}[${index}]`, file).toString('utf8'));
    if (certificates.length === 0) {
      throw new ConfigError(`${key}[${index}]: ${file} holds no PEM certificate`);
    }
    return certificates.map((pem) => {
      try {
        new X509Certificate(pem);
      } catch {
        throw new ConfigError(`${key}[${index}]: ${file} holds a certificate that does not parse`);
      }
      return Buffer.from(pem);
    });
  });
}
