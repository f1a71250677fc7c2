// Why src/domain/ec-point.ts checks points with BigInt rather than node:crypto: both, timed on the same points.
// Run with `npx tsx bench/ec-point-bench.ts`. Not a test: numbers vary with the machine.
import { ECDH } from 'node:crypto';
import { checkEcPoint, type CurveName } from '../src/domain/ec-point.js';
import { ephemeralPoint } from '../test/support/capsule-fixtures.js';

const OPENSSL: Readonly<Record<CurveName, string>> = {
  'P-256': 'prime256v1',
  'P-384': 'secp384r1',
  'P-521': 'secp521r1',
};
const RUNS = 20_000;

const perCall = (run: () => void): string => {
  const started = performance.now();
  for (let i = 0; i < RUNS; i++) {
    run();
  }
  return `${(((performance.now() - started) * 1000) / RUNS).toFixed(1)} µs`;
};

for (const curve of ['P-256', 'P-384', 'P-521'] as const) {
  const point = ephemeralPoint(curve);
  perCall(() => checkEcPoint(point, curve));
  const bigint = perCall(() => checkEcPoint(point, curve));
  const openssl = perCall(() => ECDH.convertKey(point, OPENSSL[curve], undefined, undefined, 'compressed'));
  console.log(`${curve}: checkEcPoint ${bigint}, ECDH.convertKey (OpenSSL) ${openssl}`);
}
