import { Writable } from 'node:stream';
import { expect } from 'chai';
import { createLogger } from '../../src/logging/logger.js';

const capture = () => {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
};

describe('logger', () => {
  it('writes JSON lines by default', () => {
    const { stream, text } = capture();
    createLogger({ level: 'info', pretty: false }, stream).info({ operation: 'createCapsule' }, 'request');
    const line = JSON.parse(text().trim()) as Record<string, unknown>;
    expect(line).to.include({ msg: 'request', operation: 'createCapsule', service: 'cdoc2-keyserver' });
  });

  it('writes human-readable lines with log.pretty', () => {
    const { stream, text } = capture();
    createLogger({ level: 'info', pretty: true }, stream).info({ operation: 'createCapsule' }, 'request');
    expect(text()).to.contain('request');
    expect(text()).to.contain('createCapsule');
    expect(text().trim().startsWith('{')).to.equal(false);
  });

  it('leaves out entries below the configured level', () => {
    const { stream, text } = capture();
    const logger = createLogger({ level: 'warn', pretty: false }, stream);
    logger.info('quiet');
    logger.warn('loud');
    expect(text()).to.contain('loud');
    expect(text()).to.not.contain('quiet');
  });
});
