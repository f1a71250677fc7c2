import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { toJSONSchema, type z } from 'zod';
import { configSchema, type Config } from './config-schema.js';

/** A configuration problem, reported as one line naming the key and the problem; the CLI exits non-zero. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const ENV_PREFIX = 'CDOC2_';

type LeafKind = 'string' | 'number' | 'boolean' | 'array';

/** The part of a JSON Schema (draft 2020-12) this module reads. */
interface SchemaNode {
  readonly type?: string;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
}

/**
 * Every leaf key of the schema with its kind: the keys an environment variable may override. Read from zod's
 * public JSON Schema export of the input side (what a file may say), not from zod's internal definitions.
 */
function leafKeys(node: SchemaNode, path: string[] = []): Array<{ path: string[]; kind: LeafKind }> {
  if (node.type === 'object' && node.properties) {
    return Object.entries(node.properties).flatMap(([key, child]) => leafKeys(child, [...path, key]));
  }
  const kind: LeafKind =
    node.type === 'number' || node.type === 'integer'
      ? 'number'
      : node.type === 'boolean'
        ? 'boolean'
        : node.type === 'array'
          ? 'array'
          : 'string';
  return [{ path, kind }];
}

/** The configuration's input schema as JSON Schema: leaf types and the default of every key. */
export const configJsonSchema = (): SchemaNode =>
  toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as SchemaNode;

/** `capsules.ports.restSender` → `CDOC2_CAPSULES_PORTS_REST_SENDER` (README "Configuration"). */
export const envName = (path: readonly string[]): string =>
  ENV_PREFIX + path.map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');

/** Every configuration key (`capsules.ports.restSender`) with the environment variable that overrides it. */
export const configurationKeys = (): Array<{ key: string; variable: string }> =>
  leafKeys(configJsonSchema()).map((leaf) => ({ key: leaf.path.join('.'), variable: envName(leaf.path) }));

function parseEnvValue(name: string, text: string, kind: LeafKind): unknown {
  switch (kind) {
    case 'number': {
      // Every numeric key is a whole number: plain decimal digits only (Number() would also take 0x10 or 9e3).
      if (!/^-?\d{1,15}$/.test(text)) {
        throw new ConfigError(`${name}: "${text}" is not a whole number`);
      }
      return Number(text);
    }
    case 'boolean':
      if (text !== 'true' && text !== 'false') {
        throw new ConfigError(`${name}: must be true or false, got "${text}"`);
      }
      return text === 'true';
    case 'array':
      // A JSON array, or a comma-separated list.
      if (text.trim().startsWith('[')) {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          throw new ConfigError(`${name}: is not a JSON array`);
        }
      }
      return text
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
    case 'string':
      return text;
  }
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      node[key] = {};
    }
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

/** Applies `CDOC2_*` variables over the file's values. An unknown `CDOC2_*` variable is an error, not a no-op. */
export function applyEnvironment(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const result = structuredClone(raw);
  const keys = new Map(leafKeys(configJsonSchema()).map((leaf) => [envName(leaf.path), leaf]));
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || text === undefined) {
      continue;
    }
    const leaf = keys.get(name);
    if (!leaf) {
      throw new ConfigError(`${name}: not a configuration key (known keys map to names like CDOC2_DATABASE_URL)`);
    }
    setPath(result, leaf.path, parseEnvValue(name, text, leaf.kind));
  }
  return result;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const key = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
  return `${key}: ${issue.message}`;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(
      `cannot read configuration file ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    const reason = ((error as Error).message.split('\n')[0] ?? '').replace(/:$/, '');
    throw new ConfigError(`${file} is not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${reason}`);
  }
  if (parsed === null || parsed === undefined) {
    return {};
  }
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`${file}: the top level must be a mapping of keys`);
  }
  return parsed as Record<string, unknown>;
}

const resolvePath = (baseDir: string, path: string): string => (isAbsolute(path) ? path : resolve(baseDir, path));

/** Makes every path in the configuration absolute, relative to the configuration file (or the working directory). */
function resolvePaths(config: Config, baseDir: string): Config {
  const url = config.database.url.startsWith('sqlite:')
    ? `sqlite:${resolvePath(baseDir, config.database.url.slice('sqlite:'.length))}`
    : config.database.url;
  return {
    ...config,
    database: { ...config.database, url },
    ...(config.tls
      ? { tls: { cert: resolvePath(baseDir, config.tls.cert), key: resolvePath(baseDir, config.tls.key) } }
      : {}),
    capsules: { ...config.capsules, clientCa: config.capsules.clientCa.map((file) => resolvePath(baseDir, file)) },
    shares: {
      ...config.shares,
      trustedIssuers: config.shares.trustedIssuers.map((file) => resolvePath(baseDir, file)),
    },
  };
}

export interface LoadedConfig {
  readonly config: Config;
  /** The file it came from; undefined for the zero-configuration start. */
  readonly file: string | undefined;
}

/**
 * What the configuration is loaded for: `serve` needs every section; `migrate` reads only `database`, so the
 * migration job of a deployment needs neither the server's TLS identity nor its issuers.
 */
export type ConfigPurpose = 'serve' | 'migrate';

/**
 * Reads, overrides and validates the configuration. Throws ConfigError with one line naming the first bad key.
 * With a file, this server's identity (`tls`) and the recipients' issuers (`capsules.clientCa`) are required for
 * `serve`: only the zero-configuration development start may invent them.
 */
export function loadConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  purpose: ConfigPurpose = 'serve',
): LoadedConfig {
  const raw = file ? readConfigFile(file) : {};
  const result = configSchema.safeParse(applyEnvironment(raw, env));
  if (!result.success) {
    const first = result.error.issues[0];
    throw new ConfigError(first ? describeIssue(first) : 'invalid configuration');
  }
  const config = resolvePaths(result.data, file ? dirname(resolve(file)) : process.cwd());
  if (file && purpose === 'serve') {
    if (!config.tls) {
      throw new ConfigError('tls: required (cert and key of this server) when a configuration file is given');
    }
    if (config.capsules.enabled && config.capsules.clientCa.length === 0) {
      throw new ConfigError('capsules.clientCa: at least one issuer file is required when capsules.enabled is true');
    }
    if (config.shares.enabled && config.shares.baseUrls.length === 0) {
      throw new ConfigError('shares.baseUrls: at least one public base URL is required when shares.enabled is true');
    }
    if (config.shares.enabled && config.shares.trustedIssuers.length === 0) {
      throw new ConfigError('shares.trustedIssuers: at least one issuer file is required when shares.enabled is true');
    }
  }
  return { config, file };
}
