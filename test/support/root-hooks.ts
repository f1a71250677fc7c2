// Loaded by .mocharc.cjs before every suite.
// The servers log through pino; tests keep the output readable by logging at 'silent' unless LOG_LEVEL is set.
process.env['TEST_LOG_LEVEL'] ??= process.env['LOG_LEVEL'] ?? 'silent';

export const mochaHooks = {};
