#!/usr/bin/env node
import { parseCommandLine, USAGE_EXIT_CODE, type Invocation, type ProgramSpec } from '../cli/command-line.js';
import { ConfigError, configurationKeys } from '../config/load-config.js';
import { devPki, migrate } from './maintenance-commands.js';
import { packageInfo } from './paths.js';
import { serve } from './serve-command.js';

type Command = 'serve' | 'migrate' | 'dev-pki';

const CONFIG_OPTION = {
  name: 'config',
  short: 'c',
  value: 'FILE',
  description: 'the configuration file, YAML or JSON (README "Configuration"; deploy/config.example.yaml)',
};

const environment = (prefix: string) =>
  configurationKeys()
    .filter(({ key }) => key.startsWith(prefix))
    .map(({ key, variable }) => ({ name: variable, description: `overrides ${key}` }));

const PROGRAM: ProgramSpec<Command> = {
  name: 'cdoc2-keyserver',
  version: packageInfo().version,
  summary: 'the CDOC2 key capsule server and shares server',
  commands: [
    {
      name: 'serve',
      summary: 'start the servers (no FILE: development mode, SQLite and a development PKI in ./var/)',
      options: [CONFIG_OPTION],
      environment: environment(''),
      details:
        'SIGTERM or SIGINT stops it cleanly: listeners stop accepting, requests in flight finish, exit code 0.\n' +
        'A second signal (more than a second later) exits at once with code 1.',
    },
    {
      name: 'migrate',
      summary: 'apply pending database migrations and exit (reads only the database section)',
      options: [CONFIG_OPTION],
      environment: environment('database.'),
    },
    {
      name: 'dev-pki',
      summary: 'create a self-signed development PKI (never for production)',
      arguments: [{ name: 'DIR', description: 'the folder to write it to (kept as it is when it holds one)' }],
    },
  ],
};

function run(invocation: Invocation<Command>): Promise<void> {
  switch (invocation.command) {
    case 'serve':
      return serve(invocation.option('config'));
    case 'migrate':
      return migrate(invocation.option('config'));
    case 'dev-pki':
      return devPki(invocation.arguments[0] as string);
  }
}

/** Runs the command line; resolves with the exit code, or undefined while a server keeps the process alive. */
export async function main(argv: readonly string[]): Promise<number | undefined> {
  const line = parseCommandLine(PROGRAM, argv);
  if (line.kind === 'print') {
    (line.stream === 'stdout' ? process.stdout : process.stderr).write(line.text);
    return line.exitCode;
  }
  try {
    await run(line.invocation);
    return line.invocation.command === 'serve' ? undefined : 0;
  } catch (error) {
    // One clear line, a non-zero exit: configuration mistakes are the operator's to fix, not a crash to debug.
    if (error instanceof ConfigError) {
      process.stderr.write(`${PROGRAM.name}: ${error.message}\n`);
      return USAGE_EXIT_CODE;
    }
    process.stderr.write(`${PROGRAM.name}: failed: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    if (code !== undefined) {
      // exit(), so that nothing a failed start left open keeps the process alive (writes to pipes, files and
      // terminals are synchronous on POSIX, so nothing printed is lost).
      process.exit(code);
    }
  });
}
