// Part of `npm run bench`: the latency a revocation check adds to a request, against a real `openssl ocsp`
// responder on 127.0.0.1: the chain rules alone (mode off), an uncached check (one OCSP round trip and the
// response's verification), and a cached one. Not a test: numbers vary with the machine.
import { X509Certificate } from 'node:crypto';
import { createCertificateTrust } from '../src/pki/certificate-trust.js';
import { createRevocationChecker, type RevocationMode } from '../src/pki/revocation-checker.js';
import { generateOcspPki } from '../test/support/ocsp-pki.js';
import { startOcspResponder } from '../test/support/ocsp-responder.js';

const quiet = { warn: () => undefined };

async function main(): Promise<void> {
  const pki = await generateOcspPki();
  const responder = await startOcspResponder({
    issuer: pki.intermediate,
    signer: pki.intermediate,
    entries: [{ certificate: pki.good, status: 'good' }],
    nextUpdateMinutes: 60,
  });
  const anchors = [new X509Certificate(pki.root.certPem), new X509Certificate(pki.intermediate.certPem)];
  const leaf = new X509Certificate(pki.good.certPem).raw;
  // cacheSize 0: every check does the chain rules (and asks the OCSP cache); otherwise a verified certificate is
  // remembered until its earliest notAfter or OCSP nextUpdate.
  const trustWith = (mode: RevocationMode, cacheSize = 0) =>
    createCertificateTrust({
      cacheSize,
      anchors,
      revocation: createRevocationChecker({
        mode,
        responderUrl: responder.url,
        timeoutMs: 3000,
        maxResponseAgeMs: 3_600_000,
        cacheSize: 100,
        clock: { now: () => new Date() },
        logger: quiet,
      }),
      label: 'client certificate',
      logger: quiet,
    });
  const time = async (label: string, runs: number, make: () => () => Promise<void>): Promise<void> => {
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) {
      const run = make();
      const started = performance.now();
      await run();
      samples.push(performance.now() - started);
    }
    samples.sort((a, b) => a - b);
    const mean = samples.reduce((sum, value) => sum + value, 0) / samples.length;
    const p50 = samples[Math.floor(samples.length / 2)] ?? 0;
    const p99 = samples[Math.floor(samples.length * 0.99)] ?? 0;
    console.log(
      `${label.padEnd(34)} mean ${mean.toFixed(3).padStart(7)} ms   p50 ${p50.toFixed(3).padStart(7)} ms   p99 ${p99.toFixed(3).padStart(7)} ms  (${runs} runs)`,
    );
  };
  try {
    console.log('certificate check latency (EC P-256 leaf, one intermediate, openssl ocsp on 127.0.0.1)');
    const off = trustWith('off');
    await time('chain rules only (revocation off)', 2000, () => () => off.assertTrusted(leaf, new Date()));
    await time('uncached OCSP check (hard-fail)', 200, () => {
      const fresh = trustWith('hard-fail');
      return () => fresh.assertTrusted(leaf, new Date());
    });
    const cached = trustWith('hard-fail');
    await cached.assertTrusted(leaf, new Date());
    await time('cached OCSP check (hard-fail)', 2000, () => () => cached.assertTrusted(leaf, new Date()));
    const remembered = trustWith('hard-fail', 100);
    await remembered.assertTrusted(leaf, new Date());
    await time('remembered verified certificate', 2000, () => () => remembered.assertTrusted(leaf, new Date()));
  } finally {
    await responder.stop();
    await pki.cleanup();
  }
}

void main();
