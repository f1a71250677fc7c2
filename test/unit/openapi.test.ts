import { resolve } from 'node:path';
import { expect } from 'chai';
import { CAPSULE_TYPES } from '../../src/domain/capsules/capsule-types.js';
import { loadOpenApiOperations, requireOperation, type OpenApiOperation } from '../../src/transport/rest/openapi.js';

const KEY_CAPSULES = resolve(__dirname, '../../openapi/key-capsules.yaml');
const KEYWORD_NAMED_PROPERTIES = resolve(__dirname, '../fixtures/openapi-keyword-named-properties.yaml');

type Json = { [key: string]: unknown };

/** Every object key of a schema that is a keyword, i.e. not a property name inside `properties`. */
function keywordsOf(node: unknown, inProperties = false): string[] {
  if (Array.isArray(node)) {
    return node.flatMap((item) => keywordsOf(item));
  }
  if (typeof node !== 'object' || node === null) {
    return [];
  }
  return Object.entries(node).flatMap(([key, value]) => [
    ...(inProperties ? [] : [key]),
    ...keywordsOf(value, !inProperties && key === 'properties'),
  ]);
}

describe('loadOpenApiOperations (openapi/key-capsules.yaml)', () => {
  let operations: ReadonlyMap<string, OpenApiOperation>;
  let create: OpenApiOperation;
  let get: OpenApiOperation;

  before(() => {
    operations = loadOpenApiOperations(KEY_CAPSULES);
    create = requireOperation(operations, 'createCapsule');
    get = requireOperation(operations, 'getCapsuleByTransactionId');
  });

  it('finds createCapsule as POST /key-capsules', () => {
    expect(create.method).to.equal('POST');
    expect(create.url).to.equal('/key-capsules');
  });

  it('finds getCapsuleByTransactionId as GET /key-capsules/:transactionId (Fastify syntax)', () => {
    expect(get.method).to.equal('GET');
    expect(get.url).to.equal('/key-capsules/:transactionId');
  });

  it('has exactly these two operations', () => {
    expect([...operations.keys()].sort()).to.deep.equal(['createCapsule', 'getCapsuleByTransactionId']);
  });

  describe('createCapsule body schema', () => {
    let body: Json;

    before(() => {
      expect(create.schemas.body).to.be.an('object');
      body = create.schemas.body as Json;
    });

    it("is a strict object with the Capsule's required fields", () => {
      expect(body['type']).to.equal('object');
      expect(body['additionalProperties']).to.equal(false);
      expect(body['required']).to.deep.equal(['recipient_id', 'ephemeral_key_material', 'capsule_type']);
      expect(Object.keys(body['properties'] as Json)).to.deep.equal([
        'recipient_id',
        'ephemeral_key_material',
        'capsule_type',
      ]);
    });

    it('keeps the field constraints: base64 lengths and the capsule type enum', () => {
      const properties = body['properties'] as Record<string, Json>;
      expect(properties['recipient_id']).to.include({ type: 'string', format: 'byte', minLength: 88, maxLength: 2800 });
      expect(properties['ephemeral_key_material']).to.include({ type: 'string', format: 'byte', maxLength: 2800 });
      // The registry is held to the file's enum by capsule-types.test.ts; here the loader must keep it whole.
      expect(properties['capsule_type']?.['enum']).to.deep.equal(CAPSULE_TYPES);
    });

    it('has no $ref, x- extension, example or title left', () => {
      const keywords = keywordsOf(body);
      expect(keywords).to.include('additionalProperties'); // the walk does see keywords
      expect(keywords.filter((key) => key === '$ref' || key.startsWith('x-'))).to.deep.equal([]);
      expect(keywords).not.to.include.members(['example']);
      expect(keywords).not.to.include('examples');
      expect(keywords).not.to.include('title');
      expect(JSON.stringify(body)).not.to.include('x-extensible-enum');
    });
  });

  it('no operation has a $ref, x- extension or example left in any request schema', () => {
    for (const operation of operations.values()) {
      const keywords = keywordsOf(operation.schemas);
      expect(keywords.filter((key) => key === '$ref' || key.startsWith('x-') || key === 'example')).to.deep.equal([]);
    }
  });

  it('gives createCapsule an optional, lower-case x-expiry-time header schema', () => {
    expect(create.schemas.headers).to.deep.equal({
      type: 'object',
      properties: { 'x-expiry-time': { type: 'string', format: 'date-time', maxLength: 64 } },
      required: [],
    });
  });

  it('gives createCapsule no params or querystring schema', () => {
    expect(create.schemas).not.to.have.property('params');
    expect(create.schemas).not.to.have.property('querystring');
  });

  it('gives getCapsuleByTransactionId a required transactionId of 18 to 34 characters', () => {
    expect(get.schemas.params).to.deep.equal({
      type: 'object',
      properties: { transactionId: { type: 'string', minLength: 18, maxLength: 34 } },
      required: ['transactionId'],
    });
  });

  it('gives getCapsuleByTransactionId no body or header schema', () => {
    expect(get.schemas).not.to.have.property('body');
    expect(get.schemas).not.to.have.property('headers');
  });
});

describe('requireOperation', () => {
  it('throws for an operation the document does not have, naming it', () => {
    const operations = loadOpenApiOperations(KEY_CAPSULES);
    expect(() => requireOperation(operations, 'deleteCapsule')).to.throw(/deleteCapsule/);
  });
});

describe('loadOpenApiOperations (property names that look like keywords)', () => {
  it('keeps request body properties named title, example or x-…', () => {
    const body = requireOperation(loadOpenApiOperations(KEYWORD_NAMED_PROPERTIES), 'createDocument').schemas.body;
    expect(Object.keys(body?.['properties'] ?? {})).to.deep.equal(['title', 'example', 'x-vendor-field']);
  });
});
