import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse as parseYaml } from 'yaml';
import { CapsuleType as ProtoCapsuleType } from '../../gen/cdoc2/capsules/v1/capsules.js';
import { CAPSULE_TYPE_REGISTRY, CAPSULE_TYPES, isCapsuleType } from '../../src/domain/capsules/capsule-types.js';

const ROOT = join(__dirname, '..', '..');

/** The proto enum's value names, without the two that name no capsule type. */
const protoNames = (): string[] =>
  Object.keys(ProtoCapsuleType).filter(
    (name) => Number.isNaN(Number(name)) && name !== 'CAPSULE_TYPE_UNSPECIFIED' && name !== 'UNRECOGNIZED',
  );

const openApiEnum = (): unknown => {
  const document = parseYaml(readFileSync(join(ROOT, 'openapi', 'key-capsules.yaml'), 'utf8')) as {
    components: { schemas: { Capsule: { properties: { capsule_type: { enum: unknown } } } } };
  };
  return document.components.schemas.Capsule.properties.capsule_type.enum;
};

describe('capsule-type registry: one entry per type, held to both wire contracts', () => {
  it('has exactly the capsule types of the OpenAPI enum, in its order', () => {
    expect(CAPSULE_TYPES).to.deep.equal(openApiEnum());
  });

  it('has exactly the capsule types of the proto enum, each under its proto name', () => {
    expect(CAPSULE_TYPES.map((type) => CAPSULE_TYPE_REGISTRY[type].protoName).sort()).to.deep.equal(
      protoNames().sort(),
    );
  });

  it('gives every type a name that fits the key_capsules.capsule_type column (16 characters)', () => {
    for (const type of CAPSULE_TYPES) {
      expect(type.length, type).to.be.at.most(16);
    }
  });

  it('declares a curve for every EC type and size bounds for every RSA type', () => {
    for (const type of CAPSULE_TYPES) {
      const { key } = CAPSULE_TYPE_REGISTRY[type];
      if (key.kind === 'ec') {
        expect(key.curve, type).to.match(/^P-(256|384|521)$/);
      } else {
        expect(key.minBits, type).to.be.at.least(2048);
        expect(key.maxBits, type).to.be.greaterThan(key.minBits);
      }
    }
  });

  it('knows only its own names (not the proto names, not inherited object keys)', () => {
    expect(CAPSULE_TYPES.every(isCapsuleType)).to.equal(true);
    for (const other of ['CAPSULE_TYPE_RSA', 'toString', '__proto__', 'constructor', 'RSA', '']) {
      expect(isCapsuleType(other), other).to.equal(false);
    }
  });
});
