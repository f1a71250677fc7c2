import { readFileSync } from 'node:fs';
import { InvalidRequestError } from './errors.js';

/**
 * The recipient's TLS client identity for the key capsule server's recipient interface (mutual TLS): a
 * certificate and key in PEM, or a PKCS#12 file (what an ID-card middleware or a keystore export gives).
 */
export type ClientIdentity =
  | { readonly kind: 'pem'; readonly cert: string | Buffer; readonly key: string | Buffer }
  | { readonly kind: 'pkcs12'; readonly pfx: Buffer; readonly passphrase?: string };

const read = (file: string, what: string): Buffer => {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new InvalidRequestError(
      `cannot read the ${what} ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
};

/** Reads a PEM certificate (chain) and its private key. */
export const pemIdentity = (certFile: string, keyFile: string): ClientIdentity => ({
  kind: 'pem',
  cert: read(certFile, 'client certificate'),
  key: read(keyFile, 'client key'),
});

/** Reads a PKCS#12 (.p12, .pfx) file holding the certificate and key. */
export const pkcs12Identity = (file: string, passphrase?: string): ClientIdentity => ({
  kind: 'pkcs12',
  pfx: read(file, 'PKCS#12 file'),
  ...(passphrase === undefined ? {} : { passphrase }),
});
