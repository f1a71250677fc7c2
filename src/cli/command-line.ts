/**
 * The command-line conventions every bin of this package follows, declared once per program and parsed here:
 * `PROGRAM COMMAND [ARGUMENTS] [OPTIONS]`; `--help`/`-h` (the program's help, or a command's after its name) and
 * `help COMMAND` on stdout with exit 0; `--version`/`-v`; no arguments at all is the usage on stderr and exit 2;
 * an unknown command or option, a missing or stray argument, a repeated option or an option without its value is
 * one line on stderr and exit 2 (the exit code of a usage error, as in BSD sysexits' EX_USAGE tradition and
 * GNU getopt). Node's `util.parseArgs` is not used: its errors are several lines long and name no command.
 */

export interface OptionSpec {
  /** The long name, without `--`. */
  readonly name: string;
  /** One letter, without `-`. */
  readonly short?: string;
  /** The value's placeholder in the help (`FILE`); absent for a flag that takes no value. */
  readonly value?: string;
  readonly description: string;
}

export interface ArgumentSpec {
  /** The placeholder in the help (`DIR`). */
  readonly name: string;
  readonly description: string;
  readonly optional?: boolean;
}

export interface EnvironmentSpec {
  readonly name: string;
  readonly description: string;
}

export interface CommandSpec<C extends string = string> {
  readonly name: C;
  /** One line, lower case, no final period: shown in the program's command list and atop the command's help. */
  readonly summary: string;
  readonly arguments?: readonly ArgumentSpec[];
  readonly options?: readonly OptionSpec[];
  readonly environment?: readonly EnvironmentSpec[];
  /** Further paragraphs for the command's help. */
  readonly details?: string;
}

export interface ProgramSpec<C extends string = string> {
  readonly name: string;
  readonly version: string;
  readonly summary: string;
  readonly commands: readonly CommandSpec<C>[];
}

export interface Invocation<C extends string = string> {
  readonly command: C;
  /** The given arguments, in order (never more than the command declares, never fewer than it requires). */
  readonly arguments: readonly string[];
  /** The value of a value option, or undefined when it was not given. */
  option(name: string): string | undefined;
  /** Whether a flag was given. */
  flag(name: string): boolean;
}

/** What to do: run a command, or print a text (help, version, usage error) and exit with the given code. */
export type CommandLine<C extends string = string> =
  | { readonly kind: 'run'; readonly invocation: Invocation<C> }
  | { readonly kind: 'print'; readonly stream: 'stdout' | 'stderr'; readonly text: string; readonly exitCode: 0 | 2 };

/** The exit code of a usage error (a mistake on the command line or in the configuration). */
export const USAGE_EXIT_CODE = 2;

const HELP: OptionSpec = { name: 'help', short: 'h', description: 'show this help' };
const VERSION: OptionSpec = { name: 'version', short: 'v', description: 'print the version' };

function table(rows: ReadonlyArray<readonly [string, string]>): string[] {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`.trimEnd());
}

const optionLabel = (option: OptionSpec): string =>
  `${option.short ? `-${option.short}, ` : '    '}--${option.name}${option.value ? ` ${option.value}` : ''}`;

const argumentsSynopsis = (command: CommandSpec): string =>
  (command.arguments ?? [])
    .map((argument) => (argument.optional ? ` [${argument.name}]` : ` ${argument.name}`))
    .join('');

/** The program's help: its commands and global options. */
export function formatProgramHelp(program: ProgramSpec): string {
  return [
    `${program.name} ${program.version}: ${program.summary}`,
    '',
    `usage: ${program.name} COMMAND [ARGUMENTS] [OPTIONS]`,
    '',
    'commands:',
    ...table([
      ...program.commands.map((command) => [`${command.name}${argumentsSynopsis(command)}`, command.summary] as const),
      ['help COMMAND', "show a command's options and environment variables"],
    ]),
    '',
    'options:',
    ...table([HELP, VERSION].map((option) => [optionLabel(option), option.description] as const)),
    '',
  ].join('\n');
}

/** A command's help: synopsis, arguments, options and the environment variables it reads. */
export function formatCommandHelp(program: ProgramSpec, command: CommandSpec): string {
  const options = [...(command.options ?? []), HELP];
  const lines = [
    `usage: ${program.name} ${command.name}${argumentsSynopsis(command)}${options.length > 1 ? ' [OPTIONS]' : ''}`,
    '',
    command.summary,
  ];
  if (command.details) {
    lines.push('', command.details);
  }
  if (command.arguments && command.arguments.length > 0) {
    lines.push('', 'arguments:', ...table(command.arguments.map((argument) => [argument.name, argument.description])));
  }
  lines.push('', 'options:', ...table(options.map((option) => [optionLabel(option), option.description])));
  if (command.environment && command.environment.length > 0) {
    lines.push(
      '',
      'environment:',
      ...table(command.environment.map((variable) => [variable.name, variable.description])),
    );
  }
  lines.push('');
  return lines.join('\n');
}

class UsageProblem extends Error {}

/** Parses `argv` (without node and the script) against the program's declaration. Never throws. */
export function parseCommandLine<C extends string>(program: ProgramSpec<C>, argv: readonly string[]): CommandLine<C> {
  let command: CommandSpec<C> | undefined;
  try {
    let help = false;
    let version = false;
    let commandName: string | undefined;
    const positionals: string[] = [];
    const values = new Map<string, string | true>();
    for (let index = 0; index < argv.length; index++) {
      const token = argv[index] as string;
      if (token === '--') {
        positionals.push(...argv.slice(index + 1));
        break;
      }
      if (!token.startsWith('-') || token === '-') {
        if (commandName === undefined) {
          commandName = token;
          command = program.commands.find((candidate) => candidate.name === token);
        } else {
          positionals.push(token);
        }
        continue;
      }
      const equals = token.indexOf('=');
      const spelled = equals > 0 && token.startsWith('--') ? token.slice(0, equals) : token;
      if (spelled === '--help' || spelled === '-h') {
        help = true;
        continue;
      }
      if (spelled === '--version' || spelled === '-v') {
        version = true;
        continue;
      }
      const option = command?.options?.find((candidate) =>
        spelled.startsWith('--') ? candidate.name === spelled.slice(2) : candidate.short === spelled.slice(1),
      );
      if (!option) {
        throw new UsageProblem(`unknown option "${spelled}"`);
      }
      if (values.has(option.name)) {
        throw new UsageProblem(`option --${option.name} is given twice`);
      }
      if (!option.value) {
        if (spelled !== token) {
          throw new UsageProblem(`option --${option.name} takes no value`);
        }
        values.set(option.name, true);
        continue;
      }
      const value = spelled !== token ? token.slice(equals + 1) : argv[++index];
      if (value === undefined || value === '' || (value.startsWith('-') && value !== '-' && spelled === token)) {
        throw new UsageProblem(`option --${option.name} needs a value (${option.value})`);
      }
      values.set(option.name, value);
    }

    if (version) {
      return { kind: 'print', stream: 'stdout', text: `${program.name} ${program.version}\n`, exitCode: 0 };
    }
    if (commandName === undefined) {
      return help
        ? { kind: 'print', stream: 'stdout', text: formatProgramHelp(program), exitCode: 0 }
        : { kind: 'print', stream: 'stderr', text: formatProgramHelp(program), exitCode: USAGE_EXIT_CODE };
    }
    if (commandName === 'help' && command === undefined) {
      const [topic, ...extra] = positionals;
      if (extra.length > 0) {
        throw new UsageProblem(`unexpected argument "${extra[0]}"`);
      }
      if (topic === undefined) {
        return { kind: 'print', stream: 'stdout', text: formatProgramHelp(program), exitCode: 0 };
      }
      const described = program.commands.find((candidate) => candidate.name === topic);
      if (!described) {
        throw new UsageProblem(`unknown command "${topic}"`);
      }
      return { kind: 'print', stream: 'stdout', text: formatCommandHelp(program, described), exitCode: 0 };
    }
    if (command === undefined) {
      throw new UsageProblem(`unknown command "${commandName}"`);
    }
    if (help) {
      return { kind: 'print', stream: 'stdout', text: formatCommandHelp(program, command), exitCode: 0 };
    }
    const declared = command.arguments ?? [];
    if (positionals.length > declared.length) {
      throw new UsageProblem(`unexpected argument "${positionals[declared.length]}"`);
    }
    const missing = declared.slice(positionals.length).find((argument) => !argument.optional);
    if (missing) {
      throw new UsageProblem(`missing argument ${missing.name}`);
    }
    const invocation: Invocation<C> = {
      command: command.name,
      arguments: positionals,
      option: (name) => {
        const value = values.get(name);
        return typeof value === 'string' ? value : undefined;
      },
      flag: (name) => values.get(name) === true,
    };
    return { kind: 'run', invocation };
  } catch (error) {
    if (!(error instanceof UsageProblem)) {
      throw error;
    }
    const where = command ? `${program.name} ${command.name}` : program.name;
    const helpCommand = command ? `${program.name} help ${command.name}` : `${program.name} --help`;
    return {
      kind: 'print',
      stream: 'stderr',
      text: `${where}: ${error.message} (see '${helpCommand}')\n`,
      exitCode: USAGE_EXIT_CODE,
    };
  }
}
