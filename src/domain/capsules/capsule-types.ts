import type { CurveName } from '../ec-point.js';
import { MAX_RSA_BITS, MIN_RSA_BITS } from '../rsa-public-key.js';

/**
 * What a capsule type's keys are: points on one curve, or a PKCS#1 RSA key of a bounded size. The rules for each
 * kind (validation, recipient match) are written once, in capsule-key-kinds.ts.
 */
export type CapsuleKeyRule =
  | { readonly kind: 'ec'; readonly curve: CurveName }
  | { readonly kind: 'rsa'; readonly minBits: number; readonly maxBits: number };

export type CapsuleKeyKind = CapsuleKeyRule['kind'];

export interface CapsuleTypeEntry {
  /** The enum value name in proto/cdoc2/capsules/v1/capsules.proto. */
  readonly protoName: `CAPSULE_TYPE_${string}`;
  readonly key: CapsuleKeyRule;
}

/**
 * The capsule-type registry (openapi/key-capsules.yaml, `Capsule`): every capsule type, by its name on the REST wire
 * (the OpenAPI enum value, also the stored `capsule_type`), with its proto enum name and its key rule. Code
 * dispatches on this table and on the key kind, never on "not EC, so RSA": a type added to the proto and the
 * OpenAPI is one entry here, and test/unit/capsule-types.test.ts fails until it is added.
 */
export const CAPSULE_TYPE_REGISTRY = {
  ecc_secp256r1: { protoName: 'CAPSULE_TYPE_ECC_SECP256R1', key: { kind: 'ec', curve: 'P-256' } },
  ecc_secp384r1: { protoName: 'CAPSULE_TYPE_ECC_SECP384R1', key: { kind: 'ec', curve: 'P-384' } },
  ecc_secp521r1: { protoName: 'CAPSULE_TYPE_ECC_SECP521R1', key: { kind: 'ec', curve: 'P-521' } },
  rsa: { protoName: 'CAPSULE_TYPE_RSA', key: { kind: 'rsa', minBits: MIN_RSA_BITS, maxBits: MAX_RSA_BITS } },
} as const satisfies Readonly<Record<string, CapsuleTypeEntry>>;

export type CapsuleType = keyof typeof CAPSULE_TYPE_REGISTRY;

/** The REST names of every capsule type, in registry order. */
export const CAPSULE_TYPES = Object.keys(CAPSULE_TYPE_REGISTRY) as readonly CapsuleType[];

export const isCapsuleType = (value: string): value is CapsuleType => Object.hasOwn(CAPSULE_TYPE_REGISTRY, value);

export const capsuleTypeEntry = (type: CapsuleType): CapsuleTypeEntry => CAPSULE_TYPE_REGISTRY[type];

/** The default branch of a switch over key kinds: a kind without a case does not compile. */
export function unknownKeyKind(rule: never): never {
  throw new Error(`unknown capsule key kind ${JSON.stringify(rule)}`);
}
