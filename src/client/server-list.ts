import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ServerListError } from './errors.js';

/**
 * The list of trusted key servers (seed "Server identification and trust"): for each server an identifier, the
 * capsule type it supports, its sender and recipient interface URLs, the organization that runs it, and the
 * certificates it may present. Containers name servers by identifier only, so the list is the only place a URL
 * comes from: a container cannot steer a client to a server of its choice. The certificates pin each server's TLS
 * key (several allow a rotation without downtime).
 *
 * The URL's scheme picks the protocol: `https://host[:port][/base]` is the REST interface (the CDOC2 OpenAPI),
 * `grpcs://host:port` the gRPC one (always TLS 1.3). An auth ticket names a shares server by its recipient URL in
 * https form (`grpcs://css.example:8443` is named `https://css.example:8443`), so a shares server reached over gRPC
 * must list that URL among its `shares.baseUrls`.
 */
export const CAPSULE_TYPES = ['KeyServerCapsule', 'KeySharesCapsule'] as const;
export type ServerCapsuleType = (typeof CAPSULE_TYPES)[number];

export interface ServerUrl {
  readonly transport: 'rest' | 'grpc';
  readonly host: string;
  readonly port: number;
  /** REST only: a base path without a trailing slash ('' for the root). */
  readonly basePath: string;
  /** `https://host[:port][/base]`: the base URL an auth ticket names (README "The auth ticket"). */
  readonly ticketBaseUrl: string;
  /** As written in the list, for messages. */
  readonly text: string;
}

export interface TrustedServer {
  readonly id: string;
  readonly capsuleType: ServerCapsuleType;
  readonly organization: string;
  readonly senderUrl: ServerUrl;
  readonly recipientUrl: ServerUrl;
  /** The leaf certificates the server may present; any other is refused during the handshake. */
  readonly certificates: readonly X509Certificate[];
}

export interface ServerList {
  /** Trust anchors for chain validation; undefined means the system store. */
  readonly ca: readonly string[] | undefined;
  readonly servers: ReadonlyMap<string, TrustedServer>;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const entrySchema = z
  .object({
    id: z.string().regex(ID, 'must be 1..64 letters, digits, ".", "_" or "-", starting with a letter or digit'),
    capsuleType: z.enum(CAPSULE_TYPES),
    organization: z.string().min(1).max(200),
    senderUrl: z.string().min(1),
    recipientUrl: z.string().min(1),
    certificates: z
      .array(z.string().min(1))
      .min(1, 'must list at least one certificate (the server key is pinned; several allow a rotation)'),
  })
  .strict();

const listSchema = z
  .object({
    /** CA certificate files (or PEM text) for chain validation; the system store when absent. */
    ca: z.array(z.string().min(1)).min(1).optional(),
    servers: z.array(entrySchema).min(1, 'must list at least one server'),
  })
  .strict();

export type ServerListInput = z.input<typeof listSchema>;

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** PEM text as given, or the contents of a file relative to the list's directory. */
function pemText(value: string, baseDir: string, where: string): string {
  if (value.includes('-----BEGIN')) {
    return value;
  }
  try {
    return readFileSync(resolve(baseDir, value), 'utf8');
  } catch (error) {
    throw new ServerListError(`${where}: cannot read ${value} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function certificatesOf(value: string, baseDir: string, where: string): X509Certificate[] {
  const blocks = pemText(value, baseDir, where).match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    throw new ServerListError(`${where}: holds no PEM certificate`);
  }
  return blocks.map((block) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new ServerListError(`${where}: holds a certificate that does not parse`);
    }
  });
}

export function parseServerUrl(text: string, where: string): ServerUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ServerListError(`${where}: "${text}" is not a URL`);
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new ServerListError(`${where}: "${text}" must not have credentials, a query or a fragment`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (url.protocol === 'https:') {
    const basePath = url.pathname.replace(/\/+$/, '');
    return {
      transport: 'rest',
      host,
      port: url.port === '' ? 443 : Number(url.port),
      basePath,
      ticketBaseUrl: `${url.origin}${basePath}`,
      text,
    };
  }
  if (url.protocol === 'grpcs:') {
    if (url.pathname !== '' && url.pathname !== '/') {
      throw new ServerListError(`${where}: "${text}" must not have a path (gRPC names its services itself)`);
    }
    const port = url.port === '' ? 443 : Number(url.port);
    // The https origin of the same authority, normalised by the URL parser (default port dropped, host lowercase).
    const origin = new URL(`https://${url.host}`).origin;
    return { transport: 'grpc', host, port, basePath: '', ticketBaseUrl: origin, text };
  }
  throw new ServerListError(`${where}: "${text}" must be https:// (REST) or grpcs:// (gRPC); plain text is never used`);
}

const formatIssue = (issue: z.core.$ZodIssue): string =>
  `${
    issue.path.length > 0
      ? issue.path
          .map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`))
          .join('')
          .replace(/^\./, '')
      : '(top level)'
  }: ${issue.message}`;

/**
 * Validates a server list given as data (what `loadServerList` reads from YAML or JSON). Relative certificate
 * and CA file names are read from `baseDir`. Every problem is reported with the entry and field it concerns.
 */
export function parseServerList(input: unknown, baseDir = process.cwd()): ServerList {
  const parsed = listSchema.safeParse(input);
  if (!parsed.success) {
    throw new ServerListError(`invalid server list: ${parsed.error.issues.map(formatIssue).join('; ')}`);
  }
  const servers = new Map<string, TrustedServer>();
  parsed.data.servers.forEach((entry, index) => {
    const where = `servers[${index}] (${entry.id})`;
    if (servers.has(entry.id)) {
      throw new ServerListError(`${where}: the id ${entry.id} is listed twice`);
    }
    servers.set(entry.id, {
      id: entry.id,
      capsuleType: entry.capsuleType,
      organization: entry.organization,
      senderUrl: parseServerUrl(entry.senderUrl, `${where}.senderUrl`),
      recipientUrl: parseServerUrl(entry.recipientUrl, `${where}.recipientUrl`),
      certificates: entry.certificates.flatMap((value, certificate) =>
        certificatesOf(value, baseDir, `${where}.certificates[${certificate}]`),
      ),
    });
  });
  const ca = parsed.data.ca?.flatMap((value, index) =>
    certificatesOf(value, baseDir, `ca[${index}]`).map((certificate) => certificate.toString()),
  );
  return { ca, servers };
}

/** Reads a server list from a YAML or JSON file (YAML is a superset of JSON); relative paths are the file's. */
export function loadServerList(file: string): ServerList {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ServerListError(
      `cannot read the server list ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (error) {
    throw new ServerListError(`the server list ${file} is neither YAML nor JSON: ${(error as Error).message}`);
  }
  try {
    return parseServerList(data, dirname(resolve(file)));
  } catch (error) {
    if (error instanceof ServerListError) {
      throw new ServerListError(`${file}: ${error.message}`);
    }
    throw error;
  }
}

/** The server `id`, which must support `capsuleType`; a clear error otherwise. */
export function serverById(list: ServerList, id: string, capsuleType: ServerCapsuleType): TrustedServer {
  const server = list.servers.get(id);
  if (!server) {
    throw new ServerListError(
      `the server list has no server "${id}" (it lists ${[...list.servers.keys()].join(', ')})`,
    );
  }
  if (server.capsuleType !== capsuleType) {
    throw new ServerListError(`server "${id}" supports ${server.capsuleType}, not ${capsuleType}`);
  }
  return server;
}
