import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { configSchema, type ConfigInput } from '../../src/config/config-schema.js';
import { ConfigError } from '../../src/config/load-config.js';
import { resolveConfig } from '../../src/config/resolve-config.js';
import { getTestPki, type TestPki } from '../support/test-pki.js';

describe('resolveConfig: development defaults, cross-field rules and TLS material, decided once', () => {
  let dir: string;
  let pki: TestPki;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cdoc2-unit-resolve-'));
    pki = await getTestPki();
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  const resolve = (input: ConfigInput, file?: string) =>
    resolveConfig({ config: configSchema.parse(input), file }, { devPkiDir: join(dir, 'dev-pki') });

  /** The ConfigError resolveConfig rejects with; fails the test for success or another error. */
  const refusal = async (input: ConfigInput): Promise<string> => {
    const error = await resolve(input).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).to.be.instanceOf(ConfigError);
    return (error as ConfigError).message;
  };

  const configured = (extra: ConfigInput = {}): ConfigInput => ({
    tls: pki.serverFiles,
    ...extra,
    capsules: { clientCa: [pki.caFile], ...extra.capsules },
    shares: { baseUrls: ['https://css.test'], trustedIssuers: [pki.authCaFile], ...extra.shares },
  });

  it('without a file and without tls, creates a development PKI and trusts its CA (clients) and authentication CA (ticket signers), with revocation off', async () => {
    const config = await resolve({ shares: { ports: { rest: 9445 } } });
    const devPki = config.devPki;
    expect(devPki, 'the development PKI').not.to.equal(undefined);
    expect(config.tls).to.deep.equal({ cert: devPki?.serverCert, key: devPki?.serverKey });
    expect(config.capsules.clientCa).to.deep.equal([devPki?.ca]);
    expect(config.shares.trustedIssuers).to.deep.equal([devPki?.authCa]);
    expect(config.shares.baseUrls).to.deep.equal(['https://localhost:9445']);
    expect(config.revocation.mode).to.equal('off');
    expect(config.material.clientCa).to.have.length(1);
    expect(config.material.identity.certChain.toString('utf8')).to.match(/BEGIN CERTIFICATE/);
  });

  it('uses the configured tls and issuers as they are, without a development PKI', async () => {
    const config = await resolve(configured());
    expect(config.devPki).to.equal(undefined);
    expect(config.tls).to.deep.equal(pki.serverFiles);
    expect(config.revocation.mode).to.equal('hard-fail');
    expect(config.material.clientCa.map((pem) => pem.toString('utf8').trim())).to.deep.equal([pki.ca.certPem.trim()]);
  });

  it('does not read the issuers of a disabled server', async () => {
    const config = await resolve(configured({ capsules: { enabled: false, clientCa: ['/nonexistent.pem'] } }));
    expect(config.material.clientCa).to.deep.equal([]);
    expect(config.material.trustedIssuers).to.have.length.greaterThan(0);
  });

  it('refuses a file without tls', async () => {
    const error = await resolveConfig({ config: configSchema.parse({}), file: join(dir, 'x.yaml') }).then(
      () => undefined,
      (caught: unknown) => caught as Error,
    );
    expect(error?.message).to.equal('tls: required (cert and key of this server)');
  });

  it('refuses an unreadable certificate file, naming the key and the reason', async () => {
    expect(await refusal(configured({ tls: { cert: join(dir, 'missing.pem'), key: pki.serverFiles.key } }))).to.equal(
      `tls.cert: cannot read ${join(dir, 'missing.pem')} (ENOENT)`,
    );
  });

  it('refuses a key that does not belong to the certificate', async () => {
    expect(await refusal(configured({ tls: { cert: pki.serverFiles.cert, key: pki.serverFiles.cert } }))).to.match(
      /^tls\.key: /,
    );
  });

  it('refuses an issuer file that holds no PEM certificate, naming its index', async () => {
    const empty = join(dir, 'empty.pem');
    writeFileSync(empty, 'nothing here\n');
    expect(await refusal(configured({ shares: { trustedIssuers: [pki.authCaFile, empty] } }))).to.equal(
      `shares.trustedIssuers[1]: ${empty} holds no PEM certificate`,
    );
  });
});
