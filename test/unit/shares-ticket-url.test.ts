import { expect } from 'chai';
import { matchTicketUrl, parseBaseUrl, type BaseUrl } from '../../src/domain/shares/ticket-url.js';
import { baseUrl } from './shares-helpers.js';

const SHARE_ID = '9ee9a3a3b1e24bb0a4d2c0e1f2a3b4c5';

describe('ticket URLs', () => {
  describe('parseBaseUrl', () => {
    const accepted: Array<[string, { origin: string; path: string }]> = [
      ['https://css.test', { origin: 'https://css.test', path: '' }],
      ['https://css.test/', { origin: 'https://css.test', path: '' }],
      ['https://css.test:8443', { origin: 'https://css.test:8443', path: '' }],
      ['https://css.test:443', { origin: 'https://css.test', path: '' }],
      ['https://CSS.Test:8443/', { origin: 'https://css.test:8443', path: '' }],
      ['https://css.test/base', { origin: 'https://css.test', path: '/base' }],
      ['https://css.test:8443/api/shares/', { origin: 'https://css.test:8443', path: '/api/shares' }],
    ];
    for (const [text, expected] of accepted) {
      it(`accepts ${text} as origin ${expected.origin} and path "${expected.path}"`, () => {
        expect(parseBaseUrl(text)).to.deep.equal({ ...expected, text });
      });
    }

    const refused: Array<[string, string, RegExp]> = [
      ['http', 'http://css.test', /https/],
      ['another scheme', 'ftp://css.test', /https/],
      ['a query', 'https://css.test/?a=b', /query/],
      ['a fragment', 'https://css.test/#top', /fragment/],
      ['a user name', 'https://user@css.test', /credentials/],
      ['a user and password', 'https://user:secret@css.test', /credentials/],
      ['a relative path', '/key-shares', /not a URL/],
      ['a bare host name', 'css.test', /not a URL/],
      ['the empty string', '', /not a URL/],
    ];
    for (const [what, text, reason] of refused) {
      it(`refuses ${what}`, () => {
        const result = parseBaseUrl(text);
        expect(result).to.have.property('error').that.matches(reason);
      });
    }
  });

  describe('matchTicketUrl', () => {
    const root = [baseUrl('https://css.test')];
    const match = (url: string, bases: readonly BaseUrl[] = root) => matchTicketUrl(url, bases);
    const target = { shareId: SHARE_ID, nonce: 'AAECAwQFBgcICQoL' };

    it('reads the share id and the nonce', () => {
      expect(match(`https://css.test/key-shares/${SHARE_ID}?nonce=AAECAwQFBgcICQoL`)).to.deep.equal(target);
    });

    it('matches port 443 written out against a base without a port', () => {
      expect(match(`https://css.test:443/key-shares/${SHARE_ID}?nonce=AAECAwQFBgcICQoL`)).to.deep.equal(target);
    });

    it('matches a URL without a port against a base written with :443', () => {
      expect(
        match(`https://css.test/key-shares/${SHARE_ID}?nonce=AAECAwQFBgcICQoL`, [baseUrl('https://css.test:443')]),
      ).to.deep.equal(target);
    });

    it('compares the host case-insensitively', () => {
      expect(match(`https://CSS.TEST/key-shares/${SHARE_ID}?nonce=AAECAwQFBgcICQoL`)).to.deep.equal(target);
      expect(
        match(`https://css.test/key-shares/${SHARE_ID}?nonce=AAECAwQFBgcICQoL`, [baseUrl('https://Css.Test')]),
      ).to.deep.equal(target);
    });

    it('keeps the nonce’s case and its base64url characters', () => {
      expect(match(`https://css.test/key-shares/${SHARE_ID}?nonce=aB-_09zZ`)).to.deep.equal({
        shareId: SHARE_ID,
        nonce: 'aB-_09zZ',
      });
    });

    it('decodes percent-escapes in the nonce', () => {
      expect(match(`https://css.test/key-shares/${SHARE_ID}?nonce=%41BC`)).to.deep.equal({
        shareId: SHARE_ID,
        nonce: 'ABC',
      });
    });

    it('picks the base that matches among several', () => {
      const bases = [baseUrl('https://a.test'), baseUrl('https://css.test:8443/base')];
      expect(match(`https://css.test:8443/base/key-shares/${SHARE_ID}?nonce=n1`, bases)).to.deep.equal({
        shareId: SHARE_ID,
        nonce: 'n1',
      });
    });

    describe('with a base path', () => {
      const based = [baseUrl('https://h.test/base')];

      it('accepts the URL under the base path', () => {
        expect(match(`https://h.test/base/key-shares/${SHARE_ID}?nonce=n`, based)).to.deep.equal({
          shareId: SHARE_ID,
          nonce: 'n',
        });
      });

      for (const [what, url] of [
        ['another path', `https://h.test/other/key-shares/${SHARE_ID}?nonce=n`],
        ['no base path', `https://h.test/key-shares/${SHARE_ID}?nonce=n`],
        ['a longer first segment', `https://h.test/basement/key-shares/${SHARE_ID}?nonce=n`],
        ['a deeper base path', `https://h.test/x/base/key-shares/${SHARE_ID}?nonce=n`],
      ] as const) {
        it(`refuses ${what} as another server`, () => {
          expect(match(url, based)).to.deep.equal({ error: 'the ticket is for another server' });
        });
      }
    });

    const otherServer: Array<[string, string]> = [
      ['another host', `https://evil.test/key-shares/${SHARE_ID}?nonce=n`],
      ['another port', `https://css.test:8443/key-shares/${SHARE_ID}?nonce=n`],
      ['a sub-domain', `https://a.css.test/key-shares/${SHARE_ID}?nonce=n`],
      ['a path other than /key-shares/', `https://css.test/key-share/${SHARE_ID}?nonce=n`],
      ['/key-shares without a share', 'https://css.test/key-shares?nonce=n'],
    ];
    for (const [what, url] of otherServer) {
      it(`refuses ${what} as another server`, () => {
        expect(match(url)).to.deep.equal({ error: 'the ticket is for another server' });
      });
    }

    const notPlainHttps: Array<[string, string]> = [
      ['http', `http://css.test/key-shares/${SHARE_ID}?nonce=n`],
      ['credentials', `https://u:p@css.test/key-shares/${SHARE_ID}?nonce=n`],
      ['a fragment', `https://css.test/key-shares/${SHARE_ID}?nonce=n#f`],
    ];
    for (const [what, url] of notPlainHttps) {
      it(`refuses ${what}`, () => {
        expect(match(url))
          .to.have.property('error')
          .that.matches(/plain https URL/);
      });
    }

    it('refuses a ticket audience that is not a URL', () => {
      expect(match('css.test/key-shares/x?nonce=n')).to.deep.equal({ error: 'the ticket audience is not a URL' });
    });

    const notOneShare: Array<[string, string]> = [
      ['an empty share id', 'https://css.test/key-shares/?nonce=n'],
      ['an extra path segment', `https://css.test/key-shares/${SHARE_ID}/nonce?nonce=n`],
      ['a trailing slash', `https://css.test/key-shares/${SHARE_ID}/?nonce=n`],
    ];
    for (const [what, url] of notOneShare) {
      it(`refuses ${what}`, () => {
        expect(match(url)).to.deep.equal({ error: 'the ticket audience does not name one key share' });
      });
    }

    const badNonce: Array<[string, string]> = [
      ['a missing nonce', ''],
      ['an empty query', '?'],
      ['an empty nonce', '?nonce='],
      ['a nonce parameter without value', '?nonce'],
      ['two nonces', '?nonce=a&nonce=b'],
      ['an extra parameter', '?nonce=a&x=1'],
      ['an extra parameter first', '?x=1&nonce=a'],
      ['another parameter name', '?Nonce=a'],
    ];
    for (const [what, query] of badNonce) {
      it(`refuses ${what}`, () => {
        expect(match(`https://css.test/key-shares/${SHARE_ID}${query}`)).to.deep.equal({
          error: 'the ticket audience must carry exactly one nonce parameter',
        });
      });
    }
  });
});
