import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadServerList, parseServerList, ServerListError } from '../../src/client/index.js';
import { serverById } from '../../src/client/server-list.js';
import { issueCertificate } from '../../src/pki/certificates.js';

/** The trusted server list (seed "Server identification and trust"): what it accepts, and how it says no. */
describe('client server list', () => {
  let certificate = '';
  let rotated = '';
  before(async () => {
    const issue = async (name: string) =>
      (await issueCertificate({ subject: `CN=${name}`, key: { kind: 'ec', curve: 'P-256' }, profile: 'server' }))
        .certPem;
    [certificate, rotated] = await Promise.all([issue('css.example'), issue('css.example next')]);
  });

  const entry = (overrides: Record<string, unknown> = {}) => ({
    id: 'css-1',
    capsuleType: 'KeySharesCapsule',
    organization: 'org-a',
    senderUrl: 'https://CSS.example:443/base/',
    recipientUrl: 'grpcs://css.example:8443',
    certificates: [certificate],
    ...overrides,
  });
  const refusal = (input: unknown): string => {
    try {
      parseServerList(input);
    } catch (error) {
      expect(error).to.be.instanceOf(ServerListError);
      return (error as Error).message;
    }
    return expect.fail('the list was accepted');
  };

  it('reads each server: REST from https, gRPC from grpcs, the https base an auth ticket names', () => {
    const list = parseServerList({ servers: [entry({ certificates: [`${certificate}\n${rotated}`] })] });
    const server = serverById(list, 'css-1', 'KeySharesCapsule');
    expect(server.senderUrl).to.include({ transport: 'rest', host: 'css.example', port: 443, basePath: '/base' });
    expect(server.senderUrl.ticketBaseUrl).to.equal('https://css.example/base');
    expect(server.recipientUrl).to.include({ transport: 'grpc', host: 'css.example', port: 8443 });
    expect(server.recipientUrl.ticketBaseUrl).to.equal('https://css.example:8443');
    expect(server.certificates, 'two certificates in one PEM text, for a rotation').to.have.length(2);
    expect(list.ca, 'no ca: the system store').to.equal(undefined);
  });

  it('reads certificate and CA files relative to the list file, YAML or JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cdoc2-server-list-'));
    writeFileSync(join(dir, 'css.pem'), certificate);
    writeFileSync(
      join(dir, 'servers.yaml'),
      `ca: [css.pem]\nservers:\n  - ${JSON.stringify(entry({ certificates: ['css.pem'] }))}\n`,
    );
    writeFileSync(join(dir, 'servers.json'), JSON.stringify({ servers: [entry({ certificates: ['css.pem'] })] }));
    const yaml = loadServerList(join(dir, 'servers.yaml'));
    expect(yaml.ca).to.have.length(1);
    expect(yaml.servers.get('css-1')?.certificates[0]?.subject).to.equal('CN=css.example');
    expect(loadServerList(join(dir, 'servers.json')).servers.size).to.equal(1);
    expect(() => loadServerList(join(dir, 'missing.yaml'))).to.throw(ServerListError, /cannot read the server list/);
  });

  it('names the entry and field of each mistake', () => {
    expect(refusal({ servers: [entry({ certificates: [] })] })).to.match(
      /servers\[0\]\.certificates: must list at least one/,
    );
    expect(refusal({ servers: [entry({ capsuleType: 'Capsule' })] })).to.match(/servers\[0\]\.capsuleType/);
    expect(refusal({ servers: [entry({ url: 'https://x' })] })).to.match(/servers\[0\]: .*url/i);
    expect(refusal({ servers: [] })).to.match(/servers: must list at least one server/);
    expect(refusal({ servers: [entry(), entry()] })).to.match(/servers\[1\] \(css-1\): the id css-1 is listed twice/);
    expect(
      refusal({ servers: [entry({ certificates: ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'] })] }),
    ).to.match(/certificates\[0\]: holds a certificate that does not parse/);
    expect(refusal({ servers: [entry({ certificates: ['/nonexistent/css.pem'] })] })).to.match(
      /certificates\[0\]: cannot read \/nonexistent\/css.pem \(ENOENT\)/,
    );
  });

  it('refuses plain-text, credential-carrying and gRPC-with-path URLs', () => {
    expect(refusal({ servers: [entry({ senderUrl: 'http://css.example' })] })).to.match(
      /senderUrl: "http:\/\/css.example" must be https:\/\/ \(REST\) or grpcs:\/\/ \(gRPC\)/,
    );
    expect(refusal({ servers: [entry({ senderUrl: 'https://user:pw@css.example' })] })).to.match(/credentials/);
    expect(refusal({ servers: [entry({ recipientUrl: 'grpcs://css.example:8443/x' })] })).to.match(
      /must not have a path/,
    );
    expect(refusal({ servers: [entry({ recipientUrl: 'not a url' })] })).to.match(/is not a URL/);
  });

  it('finds servers by id only, and only for the capsule type they support', () => {
    const list = parseServerList({ servers: [entry()] });
    expect(() => serverById(list, 'https://css.example', 'KeySharesCapsule')).to.throw(ServerListError, /no server/);
    expect(() => serverById(list, 'css-1', 'KeyServerCapsule')).to.throw(ServerListError, /supports KeySharesCapsule/);
  });
});
