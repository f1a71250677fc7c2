import { expect } from 'chai';
import { parseCommandLine, type CommandLine, type ProgramSpec } from '../../src/cli/command-line.js';

const PROGRAM: ProgramSpec<'serve' | 'copy'> = {
  name: 'tool',
  version: '1.2.3',
  summary: 'a test program',
  commands: [
    {
      name: 'serve',
      summary: 'serve things',
      options: [
        { name: 'config', short: 'c', value: 'FILE', description: 'the configuration file' },
        { name: 'dry-run', description: 'change nothing' },
      ],
      environment: [{ name: 'TOOL_PORT', description: 'the port' }],
    },
    {
      name: 'copy',
      summary: 'copy a file',
      arguments: [
        { name: 'FROM', description: 'the source' },
        { name: 'TO', description: 'the target', optional: true },
      ],
    },
  ],
};

const parse = (...argv: string[]): CommandLine<'serve' | 'copy'> => parseCommandLine(PROGRAM, argv);

/** A usage error: one line on stderr, exit code 2, naming the problem. */
function expectUsageError(line: CommandLine, pattern: RegExp): void {
  expect(line.kind).to.equal('print');
  if (line.kind !== 'print') return;
  expect(line.stream).to.equal('stderr');
  expect(line.exitCode).to.equal(2);
  expect(line.text.trimEnd().split('\n')).to.have.length(1);
  expect(line.text).to.match(pattern);
}

function expectPrinted(line: CommandLine, pattern: RegExp): string {
  expect(line.kind).to.equal('print');
  if (line.kind !== 'print') return '';
  expect(line.stream).to.equal('stdout');
  expect(line.exitCode).to.equal(0);
  expect(line.text).to.match(pattern);
  return line.text;
}

describe('command line conventions', () => {
  it('runs a command with its options in either spelling and its arguments', () => {
    for (const argv of [
      ['serve', '--config', 'a.yaml', '--dry-run'],
      ['serve', '--config=a.yaml', '--dry-run'],
      ['serve', '-c', 'a.yaml', '--dry-run'],
      ['serve', '--dry-run', '-c', 'a.yaml'],
    ]) {
      const line = parse(...argv);
      expect(line.kind, argv.join(' ')).to.equal('run');
      if (line.kind !== 'run') continue;
      expect(line.invocation.command).to.equal('serve');
      expect(line.invocation.option('config')).to.equal('a.yaml');
      expect(line.invocation.flag('dry-run')).to.equal(true);
    }
    const copy = parse('copy', 'a', 'b');
    expect(copy.kind === 'run' && copy.invocation.arguments).to.deep.equal(['a', 'b']);
    const optional = parse('copy', 'a');
    expect(optional.kind === 'run' && optional.invocation.arguments).to.deep.equal(['a']);
  });

  it('leaves an option that was not given undefined and a flag false', () => {
    const line = parse('serve');
    expect(line.kind === 'run' && line.invocation.option('config')).to.equal(undefined);
    expect(line.kind === 'run' && line.invocation.flag('dry-run')).to.equal(false);
  });

  it('takes everything after -- as arguments', () => {
    const line = parse('copy', '--', '-a', '--b');
    expect(line.kind === 'run' && line.invocation.arguments).to.deep.equal(['-a', '--b']);
  });

  it('prints the version for --version and -v, wherever they are', () => {
    expect(expectPrinted(parse('--version'), /^tool 1\.2\.3\n$/)).to.equal('tool 1.2.3\n');
    expectPrinted(parse('-v'), /^tool 1\.2\.3\n$/);
    expectPrinted(parse('serve', '-v'), /^tool 1\.2\.3\n$/);
  });

  it('prints the usage on stderr with exit code 2 when there are no arguments', () => {
    const line = parse();
    expect(line).to.include({ kind: 'print', stream: 'stderr', exitCode: 2 });
    expect(line.kind === 'print' && line.text).to.match(/usage: tool COMMAND/);
  });

  it('prints the program help on stdout for --help, -h and help', () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const text = expectPrinted(parse(...argv), /usage: tool COMMAND/);
      expect(text).to.contain('serve').and.contain('copy FROM [TO]').and.contain('help COMMAND');
    }
  });

  it("prints a command's own help, with its options and environment, for COMMAND --help and help COMMAND", () => {
    const serveHelp = expectPrinted(parse('serve', '--help'), /^usage: tool serve \[OPTIONS\]/);
    expect(serveHelp).to.contain('-c, --config FILE').and.contain('--dry-run').and.contain('TOOL_PORT');
    expect(expectPrinted(parse('help', 'serve'), /usage: tool serve/)).to.equal(serveHelp);
    const copyHelp = expectPrinted(parse('copy', '-h'), /^usage: tool copy FROM \[TO\]/);
    expect(copyHelp).to.not.contain('TOOL_PORT');
  });

  it('refuses an unknown command, also after help', () => {
    expectUsageError(parse('frobnicate'), /^tool: unknown command "frobnicate" \(see 'tool --help'\)\n$/);
    expectUsageError(parse('help', 'frobnicate'), /unknown command "frobnicate"/);
  });

  it('refuses an unknown option, naming it and the command', () => {
    expectUsageError(
      parse('serve', '--port', '1'),
      /^tool serve: unknown option "--port" \(see 'tool help serve'\)\n$/,
    );
    expectUsageError(parse('serve', '--port=1'), /unknown option "--port"/);
    expectUsageError(parse('serve', '-x'), /unknown option "-x"/);
    expectUsageError(parse('--config', 'a', 'serve'), /^tool: unknown option "--config"/);
  });

  it('refuses a stray argument and a missing one', () => {
    expectUsageError(parse('serve', 'extra'), /^tool serve: unexpected argument "extra"/);
    expectUsageError(parse('copy', 'a', 'b', 'c'), /unexpected argument "c"/);
    expectUsageError(parse('copy'), /^tool copy: missing argument FROM/);
  });

  it('refuses an option without its value, a repeated option and a value given to a flag', () => {
    expectUsageError(parse('serve', '--config'), /option --config needs a value \(FILE\)/);
    expectUsageError(parse('serve', '--config='), /option --config needs a value/);
    expectUsageError(parse('serve', '--config', '--dry-run'), /option --config needs a value/);
    expectUsageError(parse('serve', '-c', 'a', '--config', 'b'), /option --config is given twice/);
    expectUsageError(parse('serve', '--dry-run=yes'), /option --dry-run takes no value/);
  });
});
