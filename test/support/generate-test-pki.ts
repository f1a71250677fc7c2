// `npm run test:pki [DIR]`: writes a test PKI to DIR (default ./var/test-pki) for trying the server by hand.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateTestPki } from './test-pki.js';

async function main(): Promise<void> {
  const dir = resolve(process.argv[2] ?? join('var', 'test-pki'));
  const pki = await generateTestPki(dir);
  for (const [name, client] of Object.entries({
    ...pki.clients,
    untrusted: pki.untrustedClient,
    expired: pki.expiredClient,
  })) {
    writeFileSync(join(dir, `client-${name}-cert.pem`), client.certPem);
    writeFileSync(join(dir, `client-${name}-key.pem`), client.keyPem, { mode: 0o600 });
  }
  console.log(`test PKI written to ${dir}`);
}

void main();
