import { expect } from 'chai';
import { disclose, disclosureDigest, SdJwtError, splitPresentation } from '../../src/domain/shares/sd-jwt.js';
import { decodeJson, encodeJson, loadVector, thrown } from './shares-helpers.js';

/** An element disclosure `[salt, value]` and a property disclosure `[salt, name, value]`, base64url JSON. */
const element = (value: unknown, salt = 'c2FsdC1lbGVtZW50'): string => encodeJson([salt, value]);
const property = (name: string, value: unknown, salt = 'c2FsdC1wcm9wZXJ0eQ'): string => encodeJson([salt, name, value]);
const ref = (disclosure: string): { '...': string } => ({ '...': disclosureDigest(disclosure) });

const refusal = (action: () => unknown, reason: RegExp): void => {
  expect(thrown(SdJwtError, action).message).to.match(reason);
};

describe('SD-JWT disclosures', () => {
  describe('disclosureDigest', () => {
    it('is base64url(SHA-256) of the disclosure text (RFC 9901’s own example)', () => {
      // ["6qMQvRL5haj", "family_name", "Möbius"], with the spaces the RFC's example has.
      expect(disclosureDigest('WyI2cU1RdlJMNWhhaiIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0')).to.equal(
        'uutlBuYeMDyjLLTpf6Jxi7yNkEF35jdyWMn9U7b_RYY',
      );
    });

    it('matches a digest computed by hand with openssl', () => {
      // printf '%s' '["c2FsdA","nickname","Bob"]' | base64 | tr '+/' '-_' | tr -d =  → the disclosure;
      // printf '%s' <disclosure> | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d = → the digest.
      const disclosure = 'WyJjMkZzZEEiLCJuaWNrbmFtZSIsIkJvYiJd';
      expect(Buffer.from(disclosure, 'base64url').toString('utf8')).to.equal('["c2FsdA","nickname","Bob"]');
      expect(disclosureDigest(disclosure)).to.equal('PFAtTStwaqTA0TqhwI_CkUyQ9-vR48rDRFrGxGWIk5E');
    });

    it('is over the encoded text, so two encodings of the same JSON have different digests', () => {
      const compact = Buffer.from('["s","a",1]').toString('base64url');
      const spaced = Buffer.from('["s", "a", 1]').toString('base64url');
      expect(disclosureDigest(compact)).not.to.equal(disclosureDigest(spaced));
      expect(disclosureDigest(compact)).to.match(/^[A-Za-z0-9_-]{43}$/);
    });
  });

  describe('the public vector’s disclosures', () => {
    const vector = loadVector();
    const { jwt, disclosures } = splitPresentation(vector.ticket);
    const [audDisclosure, urlDisclosure] = disclosures;
    const payload = decodeJson(jwt.split('.')[1] ?? '') as Record<string, unknown>;

    it('are the aud disclosure and one URL element disclosure', () => {
      expect(disclosures).to.have.length(2);
      const aud = decodeJson(audDisclosure ?? '');
      expect(aud).to.be.an('array').with.length(3);
      expect((aud as unknown[])[1]).to.equal('aud');
      expect(decodeJson(urlDisclosure ?? ''))
        .to.be.an('array')
        .with.length(2);
    });

    it('digest the aud disclosure to the one digest in the payload’s _sd', () => {
      expect(payload['_sd']).to.deep.equal([disclosureDigest(audDisclosure ?? '')]);
      expect(payload['_sd_alg']).to.equal('sha-256');
    });

    it('digest the URL disclosure to the first of the two digests in the aud array', () => {
      const audArray = (decodeJson(audDisclosure ?? '') as unknown[])[2] as Array<Record<string, unknown>>;
      expect(audArray).to.have.length(2);
      expect(audArray[0]).to.deep.equal({ '...': disclosureDigest(urlDisclosure ?? '') });
      expect(audArray[1]?.['...'])
        .to.be.a('string')
        .and.not.equal(disclosureDigest(urlDisclosure ?? ''));
    });

    it('disclose iss and a one-URL aud, the \\u003d escape read as "="', () => {
      expect(Buffer.from(urlDisclosure ?? '', 'base64url').toString('utf8')).to.include('\\u003d');
      expect(disclose(payload, disclosures)).to.deep.equal({ iss: vector.recipient, aud: [vector.url] });
    });
  });

  describe('disclose', () => {
    const url0 = element('https://a.test/key-shares/x?nonce=n', 'c2FsdC0w');
    const url1 = element('https://b.test/key-shares/x?nonce=n', 'c2FsdC0x');
    const aud = property('aud', [ref(url0), ref(url1)]);
    const payload = { iss: 'etsi/PNOEE-30303039914', _sd: [disclosureDigest(aud)], _sd_alg: 'sha-256' };

    it('replaces digests by the presented values and drops _sd, _sd_alg and undisclosed elements', () => {
      expect(disclose(payload, [aud, url1])).to.deep.equal({
        iss: 'etsi/PNOEE-30303039914',
        aud: ['https://b.test/key-shares/x?nonce=n'],
      });
    });

    it('leaves an array empty when none of its elements is disclosed', () => {
      expect(disclose(payload, [aud])).to.deep.equal({ iss: 'etsi/PNOEE-30303039914', aud: [] });
    });

    it('leaves out an undisclosed property (a decoy digest)', () => {
      expect(disclose(payload, [])).to.deep.equal({ iss: 'etsi/PNOEE-30303039914' });
    });

    it('accepts a payload without _sd_alg (sha-256 is the default)', () => {
      const { _sd_alg: _ignored, ...withoutAlg } = payload;
      expect(disclose(withoutAlg, [aud, url0])['aud']).to.deep.equal(['https://a.test/key-shares/x?nonce=n']);
    });

    it('reads JSON escapes such as \\u003d in a disclosure', () => {
      const escaped = Buffer.from('["c2FsdA","https://h.test/key-shares/x?nonce\\u003dAB\\u003d"]').toString(
        'base64url',
      );
      const audOfEscaped = property('aud', [ref(escaped)]);
      const result = disclose({ iss: 'i', _sd: [disclosureDigest(audOfEscaped)] }, [audOfEscaped, escaped]);
      expect(result['aud']).to.deep.equal(['https://h.test/key-shares/x?nonce=AB=']);
    });

    it('discloses nested disclosures inside a disclosed value', () => {
      const inner = property('name', 'Bob', 'aW5uZXI');
      const outer = property('person', { _sd: [disclosureDigest(inner)], age: 30 }, 'b3V0ZXI');
      const result = disclose({ _sd: [disclosureDigest(outer)] }, [outer, inner]);
      expect(result).to.deep.equal({ person: { age: 30, name: 'Bob' } });
    });

    it('refuses an extra disclosure the payload does not reference', () => {
      const stray = element('https://evil.test/key-shares/x?nonce=n', 'c3RyYXk');
      refusal(() => disclose(payload, [aud, url0, stray]), /not referenced/);
    });

    it('refuses an element disclosure whose parent (aud) is not presented', () => {
      refusal(() => disclose(payload, [url0]), /not referenced/);
    });

    it('refuses the same disclosure presented twice', () => {
      refusal(() => disclose(payload, [aud, url0, url0]), /twice/);
    });

    it('refuses a digest referenced twice', () => {
      const doubled = property('aud', [ref(url0), ref(url0)]);
      refusal(() => disclose({ iss: 'i', _sd: [disclosureDigest(doubled)] }, [doubled, url0]), /referenced twice/);
    });

    it('refuses a property disclosure referenced as an array element', () => {
      const misplaced = property('nonce', 'n', 'bWlzcGxhY2Vk');
      const audOfProperty = property('aud', [ref(misplaced)]);
      refusal(
        () => disclose({ iss: 'i', _sd: [disclosureDigest(audOfProperty)] }, [audOfProperty, misplaced]),
        /wrong place/,
      );
    });

    it('refuses an element disclosure referenced from _sd', () => {
      refusal(() => disclose({ iss: 'i', _sd: [disclosureDigest(url0)] }, [url0]), /wrong place/);
    });

    for (const reserved of ['_sd', '...']) {
      it(`refuses a disclosure named ${reserved}`, () => {
        const disclosure = property(reserved, ['x']);
        refusal(() => disclose({ iss: 'i', _sd: [disclosureDigest(disclosure)] }, [disclosure]), /reserved/);
      });
    }

    it('refuses a disclosure that would overwrite a claim of the payload', () => {
      const overwrite = property('iss', 'etsi/PNOEE-99999999999');
      refusal(
        () => disclose({ iss: 'etsi/PNOEE-30303039914', _sd: [disclosureDigest(overwrite)] }, [overwrite]),
        /overwrite the claim iss/,
      );
    });

    it('refuses two disclosures of the same claim name', () => {
      const first = property('aud', ['x'], 'Zmlyc3Q');
      const second = property('aud', ['y'], 'c2Vjb25k');
      refusal(
        () => disclose({ _sd: [disclosureDigest(first), disclosureDigest(second)] }, [first, second]),
        /overwrite the claim aud/,
      );
    });

    for (const alg of ['sha-512', 'SHA-256', 'sha256', 1]) {
      it(`refuses _sd_alg ${JSON.stringify(alg)}`, () => {
        refusal(() => disclose({ ...payload, _sd_alg: alg }, [aud, url0]), /digest algorithm/);
      });
    }

    it('refuses an array element digest object with another member', () => {
      const audWithExtra = property('aud', [{ '...': disclosureDigest(url0), x: 1 }]);
      refusal(
        () => disclose({ iss: 'i', _sd: [disclosureDigest(audWithExtra)] }, [audWithExtra, url0]),
        /extra members/,
      );
    });

    it('refuses a digest that is not a string', () => {
      refusal(() => disclose({ _sd: [42] }, []), /not a string/);
    });

    it('refuses an _sd that is not an array', () => {
      refusal(() => disclose({ _sd: disclosureDigest(aud) }, [aud]), /_sd is not an array/);
    });

    const malformed: Array<[string, string, RegExp]> = [
      ['not JSON', Buffer.from('[salt').toString('base64url'), /not base64url-encoded JSON/],
      ['an object', encodeJson({ salt: 's' }), /salt/],
      ['an array without a string salt', encodeJson([1, 'aud', []]), /salt/],
      ['four elements', encodeJson(['s', 'aud', [], 'x']), /wrong number/],
      ['one element', encodeJson(['s']), /wrong number/],
      ['three elements with a non-string name', encodeJson(['s', 1, 'x']), /wrong number/],
    ];
    for (const [what, disclosure, reason] of malformed) {
      it(`refuses a disclosure that is ${what}`, () => {
        refusal(() => disclose({ _sd: [disclosureDigest(disclosure)] }, [disclosure]), reason);
      });
    }

    it('treats a disclosure named __proto__ as a claim (or refuses it), never as the prototype', () => {
      const proto = property('__proto__', { aud: ['https://h.test/key-shares/x?nonce=n'] });
      let result: Record<string, unknown> | undefined;
      try {
        result = disclose({ iss: 'i', _sd: [disclosureDigest(proto)] }, [proto]);
      } catch (error) {
        expect(error).to.be.instanceOf(SdJwtError);
        return;
      }
      expect(Object.hasOwn(result, '__proto__')).to.equal(true);
      expect(result['aud']).to.equal(undefined);
    });
  });

  describe('splitPresentation', () => {
    const jwt = 'aGVhZGVy.cGF5bG9hZA.c2ln';

    it('splits <jwt>~<disclosure>~<disclosure>~', () => {
      expect(splitPresentation(`${jwt}~ZDE~ZDI~`)).to.deep.equal({ jwt, disclosures: ['ZDE', 'ZDI'] });
    });

    it('accepts a presentation without disclosures (<jwt>~)', () => {
      expect(splitPresentation(`${jwt}~`)).to.deep.equal({ jwt, disclosures: [] });
    });

    const refused: Array<[string, string]> = [
      ['a bare JWT', jwt],
      ['no trailing ~', `${jwt}~ZDE~ZDI`],
      ['a key-binding JWT after the last ~', `${jwt}~ZDE~a2I.a2I.a2I`],
      ['an empty JWT', '~ZDE~'],
      ['an empty middle part', `${jwt}~ZDE~~ZDI~`],
      ['an empty part before the final ~', `${jwt}~~`],
      ['a disclosure with +', `${jwt}~ZD+E~`],
      ['a disclosure with /', `${jwt}~ZD/E~`],
      ['a disclosure with = padding', `${jwt}~ZDE=~`],
      ['a disclosure with a space', `${jwt}~ZD E~`],
      ['the empty string', ''],
    ];
    for (const [what, ticket] of refused) {
      it(`refuses ${what}`, () => {
        thrown(SdJwtError, () => splitPresentation(ticket));
      });
    }
  });
});
