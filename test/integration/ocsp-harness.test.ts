import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { expect } from 'chai';
import { generateOcspPki, type OcspPki, type OcspPkiName } from '../support/ocsp-pki.js';
import {
  findFreePort,
  formatIndexLine,
  startOcspResponder,
  type OcspIndexEntry,
  type OcspResponder,
  type OcspResponderOptions,
} from '../support/ocsp-responder.js';

/**
 * Checks the OCSP test harness itself, with `openssl ocsp` as the client: the PKI, the index.txt it writes, and the
 * responder's answers, signatures, nextUpdate, request counting, index updates and shutdown.
 */

interface OcspQuery {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** good / revoked / unknown, from the `<cert file>: <status>` line; undefined when there is none. */
  readonly status: string | undefined;
  readonly verified: boolean;
  readonly verifyFailed: boolean;
}

const run = (file: string, args: readonly string[]) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(file, args, { timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ code, stdout, stderr });
    });
  });

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const timeOf = (label: string, text: string): Date | undefined => {
  const match = new RegExp(`^\\s*${label}: (.+)$`, 'm').exec(text);
  return match?.[1] === undefined ? undefined : new Date(match[1]);
};

describe('OCSP test harness: openssl ocsp responder and its PKI', function () {
  let pki: OcspPki;
  let aiaPort: number;
  const responders: OcspResponder[] = [];

  const start = async (options: Partial<OcspResponderOptions> = {}): Promise<OcspResponder> => {
    const responder = await startOcspResponder({
      dir: pki.dir,
      issuer: pki.intermediate,
      signer: pki.ocspSigner,
      entries: defaultEntries(),
      ...options,
    });
    responders.push(responder);
    return responder;
  };

  const defaultEntries = (): OcspIndexEntry[] => [
    { certificate: pki.good, status: 'good' },
    { certificate: pki.revoked, status: 'revoked', reason: 'keyCompromise' },
    { certificate: pki.authGood, status: 'good' },
    { certificate: pki.authRevoked, status: 'revoked' },
    { certificate: pki.server, status: 'good' },
  ];

  const query = async (
    name: OcspPkiName,
    url: string,
    { issuer = 'intermediate' }: { issuer?: OcspPkiName } = {},
  ): Promise<OcspQuery> => {
    const certFile = pki.files[name].cert;
    const result = await run('openssl', [
      'ocsp',
      '-issuer',
      pki.files[issuer].cert,
      '-cert',
      certFile,
      '-url',
      url,
      '-CAfile',
      pki.caBundleFile,
      // No -timeout: with one, openssl retries a refused connection until it expires.
      '-resp_text',
    ]);
    const status = new RegExp(`^${escapeRegExp(certFile)}: (\\S+)$`, 'm').exec(result.stdout)?.[1];
    return {
      ...result,
      status,
      verified: /^Response verify OK$/m.test(result.stderr),
      verifyFailed: /Response Verify Failure/.test(result.stderr),
    };
  };

  before(async function () {
    aiaPort = await findFreePort();
    pki = await generateOcspPki({ ocspUrl: `http://127.0.0.1:${aiaPort}` });
  });

  after(async function () {
    await Promise.all(responders.map((responder) => responder.stop()));
    await pki?.cleanup();
  });

  describe('the PKI', function () {
    it('chains every issued certificate to the root through the intermediate', async function () {
      const names: OcspPkiName[] = ['good', 'revoked', 'unknown', 'authGood', 'authRevoked', 'ocspSigner', 'server'];
      const result = await run('openssl', [
        'verify',
        '-CAfile',
        pki.caBundleFile,
        ...names.map((n) => pki.files[n].cert),
      ]);
      expect(result.code, result.stderr).to.equal(0);
      for (const name of names) {
        expect(result.stdout).to.include(`${pki.files[name].cert}: OK`);
      }
      expect(pki.intermediate.certificate.issuer).to.equal(pki.root.certificate.subject);
    });

    it('puts the OCSP URL in the AIA of client, authentication and server certificates', async function () {
      for (const name of ['good', 'revoked', 'unknown', 'authGood', 'authRevoked', 'server'] as const) {
        const result = await run('openssl', ['x509', '-noout', '-ocsp_uri', '-in', pki.files[name].cert]);
        expect(result.stdout.trim(), name).to.equal(`http://127.0.0.1:${aiaPort}`);
      }
    });

    it('gives the delegated responder the OCSPSigning EKU only, and the rogue one no issuer but itself', async function () {
      const signer = await run('openssl', ['x509', '-noout', '-text', '-in', pki.files.ocspSigner.cert]);
      expect(signer.stdout).to.match(/X509v3 Extended Key Usage: *\n\s*OCSP Signing\n/);
      expect(signer.stdout).to.match(/X509v3 Key Usage: critical\n\s*Digital Signature\n/);
      expect(signer.stdout).to.include('OCSP No Check');
      expect(pki.rogueSigner.certificate.issuer).to.equal(pki.rogueSigner.certificate.subject);
      const rogue = await run('openssl', ['verify', '-CAfile', pki.caBundleFile, pki.files.rogueSigner.cert]);
      expect(rogue.code).to.not.equal(0);
    });

    it('issues Smart-ID-like RSA authentication certificates', async function () {
      const result = await run('openssl', [
        'x509',
        '-noout',
        '-subject',
        '-text',
        '-nameopt',
        'RFC2253',
        '-in',
        pki.files.authGood.cert,
      ]);
      expect(result.stdout).to.include('subject=C=EE,CN=TESTNUMBER\\,OK,serialNumber=PNOEE-30303039914');
      expect(result.stdout).to.include('Public-Key: (2048 bit)');
      expect(result.stdout).to.match(/Digital Signature, Key Encipherment, Data Encipherment/);
    });

    it('writes the server chain as the server certificate followed by the intermediate', function () {
      expect(readFileSync(pki.serverChainFile, 'utf8')).to.equal(pki.server.certPem + pki.intermediate.certPem);
    });
  });

  describe('index.txt', function () {
    it('holds the serial exactly as openssl prints it, and the OpenSSL CA database fields', async function () {
      const revokedAt = new Date('2026-01-02T03:04:05Z');
      for (const name of ['good', 'revoked', 'authGood'] as const) {
        const serial = (await run('openssl', ['x509', '-noout', '-serial', '-in', pki.files[name].cert])).stdout
          .trim()
          .replace(/^serial=/, '');
        const line = formatIndexLine(
          name === 'good'
            ? { certificate: pki[name], status: 'good' }
            : { certificate: pki[name], status: 'revoked', revokedAt, reason: 'superseded' },
        );
        const fields = line.split('\t');
        expect(fields, line).to.have.length(6);
        expect(fields[0]).to.equal(name === 'good' ? 'V' : 'R');
        expect(fields[1]).to.match(/^\d{12}Z$/);
        expect(fields[2]).to.equal(name === 'good' ? '' : '260102030405Z,superseded');
        expect(fields[3]).to.equal(serial);
        expect(fields[4]).to.equal('unknown');
      }
      expect(formatIndexLine({ certificate: pki.authGood, status: 'good' }).split('\t')[5]).to.equal(
        '/serialNumber=PNOEE-30303039914/CN=TESTNUMBER,OK/C=EE',
      );
    });
  });

  describe('a responder with a delegated signer', function () {
    let responder: OcspResponder;

    before(async function () {
      // The port written into the certificates' AIA.
      responder = await start({ port: aiaPort });
    });

    it('listens on the port it was asked for, with an index.txt in its own directory', function () {
      expect(responder.url).to.equal(`http://127.0.0.1:${aiaPort}`);
      expect(responder.url).to.equal(pki.ocspUrl);
      expect(readFileSync(responder.indexFile, 'utf8').trim().split('\n')).to.have.length(defaultEntries().length);
    });

    it('answers good for a good certificate, with a signature that verifies', async function () {
      const result = await query('good', responder.url);
      expect(result.status, result.stderr).to.equal('good');
      expect(result.verified, result.stderr).to.be.true;
      expect(result.code).to.equal(0);
      expect(result.stdout).to.include('Responder Id: CN = cdoc2 OCSP test responder');
    });

    it('answers revoked, with the revocation time and reason, for a revoked certificate', async function () {
      const result = await query('revoked', responder.url);
      expect(result.status, result.stderr).to.equal('revoked');
      expect(result.verified).to.be.true;
      expect(result.stdout).to.match(/Reason: keyCompromise/);
      const revokedAt = timeOf('Revocation Time', result.stdout);
      expect(revokedAt).to.be.instanceOf(Date);
      expect(Date.now() - (revokedAt?.getTime() ?? 0)).to.be.within(3_500_000, 3_700_000); // an hour ago
    });

    it('answers unknown for a certificate of its issuer that is not in the index', async function () {
      const result = await query('unknown', responder.url);
      expect(result.status, result.stderr).to.equal('unknown');
      expect(result.verified).to.be.true;
    });

    it('answers unknown for a certificate of another issuer', async function () {
      const result = await query('rogueSigner', responder.url, { issuer: 'rogueSigner' });
      expect(result.status, result.stderr).to.equal('unknown');
    });

    it('answers for the RSA authentication certificates', async function () {
      expect((await query('authGood', responder.url)).status).to.equal('good');
      const revoked = await query('authRevoked', responder.url);
      expect(revoked.status).to.equal('revoked');
      expect(revoked.stdout).to.not.match(/Reason:/);
    });

    it('omits nextUpdate when no nextUpdateMinutes is given', async function () {
      const result = await query('good', responder.url);
      expect(timeOf('This Update', result.stdout)).to.be.instanceOf(Date);
      expect(result.stdout).to.not.include('Next Update');
    });

    it('counts the requests it receives', async function () {
      const before = responder.requests();
      await query('good', responder.url);
      expect(responder.requests()).to.equal(before + 1);
      await query('unknown', responder.url);
      await query('revoked', responder.url);
      expect(responder.requests()).to.equal(before + 3);
    });

    it('answers concurrent clients one after another', async function () {
      const before = responder.requests();
      const names = ['good', 'revoked', 'unknown', 'authGood', 'authRevoked', 'server'] as const;
      const results = await Promise.all(names.map((name) => query(name, responder.url)));
      expect(results.map((result) => result.status)).to.deep.equal([
        'good',
        'revoked',
        'unknown',
        'good',
        'revoked',
        'good',
      ]);
      expect(responder.requests()).to.equal(before + names.length);
    });
  });

  describe('responder variants', function () {
    it('gives nextUpdate = thisUpdate + nextUpdateMinutes', async function () {
      const responder = await start({ nextUpdateMinutes: 30 });
      const result = await query('good', responder.url);
      expect(result.status).to.equal('good');
      const thisUpdate = timeOf('This Update', result.stdout);
      const nextUpdate = timeOf('Next Update', result.stdout);
      expect(nextUpdate, result.stdout).to.be.instanceOf(Date);
      expect((nextUpdate?.getTime() ?? 0) - (thisUpdate?.getTime() ?? 0)).to.equal(30 * 60_000);
    });

    it('signs with the issuer itself when it is the signer, which verifies', async function () {
      const responder = await start({ signer: pki.intermediate });
      const result = await query('revoked', responder.url);
      expect(result.status).to.equal('revoked');
      expect(result.verified, result.stderr).to.be.true;
      expect(result.stdout).to.include('Responder Id: CN = cdoc2 OCSP test intermediate CA');
    });

    it('signs with the wrong key when the signer is the rogue responder, which fails verification', async function () {
      const responder = await start({ signer: pki.rogueSigner });
      const result = await query('good', responder.url);
      expect(result.stdout).to.include('Responder Id: CN = rogue OCSP responder');
      expect(result.verified).to.be.false;
      expect(result.verifyFailed, result.stderr).to.be.true;
      expect(result.code).to.not.equal(0);
    });

    it('sees an updated index at the very next request', async function () {
      const responder = await start();
      expect((await query('good', responder.url)).status).to.equal('good');
      await responder.update([{ certificate: pki.good, status: 'revoked', reason: 'certificateHold' }]);
      const revoked = await query('good', responder.url);
      expect(revoked.status).to.equal('revoked');
      expect(revoked.stdout).to.include('Reason: certificateHold');
      expect((await query('revoked', responder.url)).status).to.equal('unknown');
    });

    it('fails to start, with openssl’s error, on a port that is taken', async function () {
      const first = await start();
      const error = await startOcspResponder({
        dir: pki.dir,
        issuer: pki.intermediate,
        signer: pki.ocspSigner,
        entries: [],
        port: first.port,
      }).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).to.be.instanceOf(Error);
      expect((error as Error).message).to.match(/exited with 1[\s\S]*Address already in use/);
      expect((await query('good', first.url)).status).to.equal('good');
    });

    it('refuses connections once stopped, and removes its directory', async function () {
      const responder = await start();
      expect((await query('good', responder.url)).status).to.equal('good');
      await responder.stop();
      await responder.stop(); // idempotent
      expect(existsSync(responder.dir)).to.be.false;
      const result = await query('good', responder.url);
      expect(result.code).to.not.equal(0);
      expect(result.status).to.be.undefined;
      expect(result.stderr).to.match(/connect error/);
      const refused = await new Promise<boolean>((resolve) => {
        const socket = createConnection({ host: '127.0.0.1', port: responder.port });
        socket.once('connect', () => {
          socket.destroy();
          resolve(false);
        });
        socket.once('error', () => resolve(true));
      });
      expect(refused).to.be.true;
    });

    it('can be started again on a stopped responder’s port', async function () {
      const first = await start();
      await first.stop();
      const second = await start({ port: first.port });
      expect(second.url).to.equal(first.url);
      expect((await query('revoked', second.url)).status).to.equal('revoked');
    });
  });
});
