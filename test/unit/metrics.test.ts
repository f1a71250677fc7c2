import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { CONNECTION_CLOSURE_REASONS, createMetrics } from '../../src/observability/metrics.js';

const metrics = () =>
  createMetrics(
    () => ({ cacheHits: 0, cacheMisses: 0, responderFailures: 0, refusals: 0 }),
    () => ({ used: 0, free: 0, pendingAcquires: 0 }),
  );

describe('metrics', () => {
  it('counts connections closed by a listener, by listener and reason', async () => {
    const subject = metrics();
    subject.connectionClosed('capsules-grpc-sender', 'rapid_reset');
    subject.connectionClosed('capsules-grpc-sender', 'rapid_reset');
    subject.connectionClosed('shares-grpc', 'rapid_reset');
    const text = await subject.registry.metrics();
    expect(text).to.contain('cdoc2_connections_closed_total{listener="capsules-grpc-sender",reason="rapid_reset"} 2');
    expect(text).to.contain('cdoc2_connections_closed_total{listener="shares-grpc",reason="rapid_reset"} 1');
  });
});

describe('README "Health, metrics, logs" lists the metrics', () => {
  const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Health, metrics, logs'), readme.indexOf('### Limits'));

  it('names every cdoc2_ metric the server registers, and every connection-closure reason', async () => {
    const names = (await metrics().registry.getMetricsAsJSON())
      .map((metric) => metric.name)
      .filter((name) => name.startsWith('cdoc2_'));
    expect(names).to.include('cdoc2_connections_closed_total');
    const missing = [
      ...names.filter((name) => !section.includes(`\`${name}`)),
      ...CONNECTION_CLOSURE_REASONS.filter((reason) => !section.includes(`\`${reason}\``)),
    ];
    expect(missing).to.deep.equal([]);
  });
});
