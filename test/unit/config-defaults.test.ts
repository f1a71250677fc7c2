import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse as parseYaml } from 'yaml';
import { configSchema } from '../../src/config/config-schema.js';
import { configJsonSchema, loadConfig } from '../../src/config/load-config.js';
import { parseIsoDuration } from '../../src/domain/duration.js';

const ROOT = join(__dirname, '..', '..');

interface SchemaNode {
  type?: string;
  default?: unknown;
  properties?: Record<string, SchemaNode>;
}

/** Every leaf key of the configuration with the default the schema gives it (none for required keys). */
function schemaDefaults(node: SchemaNode, path = ''): Map<string, unknown> {
  if (node.type === 'object' && node.properties) {
    return new Map(
      Object.entries(node.properties).flatMap(([key, child]) => [
        ...schemaDefaults(child, path ? `${path}.${key}` : key),
      ]),
    );
  }
  return new Map([[path, node.default]]);
}

/** The README's configuration table: key → the text of its default column. */
function readmeDefaults(): Map<string, string> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(
    readme.indexOf('\n## Configuration'),
    readme.indexOf('\n## ', readme.indexOf('\n## Configuration') + 1),
  );
  const rows = [...section.matchAll(/^\| `([a-zA-Z.]+)` \| ([^|]+) \|/gm)];
  return new Map(rows.map((row) => [row[1] as string, (row[2] as string).trim()]));
}

/** A default as the README writes it: `value` in backquotes, `""` for the empty string, or a (parenthesis). */
const readmeText = (value: unknown): string =>
  `\`${value === '' ? '""' : typeof value === 'string' ? value : JSON.stringify(value)}\``;

describe('configuration defaults: one place (the schema), and the documents that repeat them', () => {
  const defaults = schemaDefaults(configJsonSchema());

  it('lists every configuration key in the README table, and no other', () => {
    expect([...readmeDefaults().keys()].sort()).to.deep.equal([...defaults.keys()].sort());
  });

  for (const [key, value] of schemaDefaults(configJsonSchema())) {
    it(`gives ${key} the schema's default in the README table`, () => {
      const documented = readmeDefaults().get(key) ?? '';
      if (value === undefined || (Array.isArray(value) && value.length === 0)) {
        // No default, or an empty list the cross-field rules require to be filled: the README says when.
        expect(documented, 'a key without a default says why in parentheses').to.match(/^\(/);
      } else {
        expect(documented).to.equal(readmeText(value));
      }
    });
  }

  it('states the default nonce lifetime of the shares OpenAPI in minutes of the schema default', () => {
    const document = parseYaml(readFileSync(join(ROOT, 'openapi', 'key-shares.yaml'), 'utf8')) as {
      paths: Record<string, { post?: { description?: string } }>;
    };
    const description = document.paths['/key-shares/{shareId}/nonce']?.post?.description ?? '';
    const stated = /default (\d+) minutes/.exec(description);
    expect(stated, description).not.to.equal(null);
    expect(Number(stated?.[1]) * 60_000).to.equal(configSchema.parse({}).shares.nonceTtl);
  });

  it('gives the capsule and the share servers expiry sections of their own', () => {
    const parsed = configSchema.parse({ capsules: { expiry: { default: 'P1D' } } });
    expect(parsed.capsules.expiry.default).to.equal(86_400_000);
    expect(parseIsoDuration('P1095D')).to.deep.equal({ ms: parsed.shares.expiry.default });
  });

  describe('deploy/config.example.yaml', () => {
    const file = join(ROOT, 'deploy', 'config.example.yaml');
    const text = readFileSync(file, 'utf8');
    const example = parseYaml(text) as Record<string, unknown>;
    const valueAt = (key: string): unknown =>
      key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], example);

    it('is a valid configuration file', () => {
      const { config } = loadConfig(file, {});
      expect(config.tls?.cert).to.equal('/etc/cdoc2-keyserver/tls/server-chain.pem');
    });

    it("lists every key with the schema's default, and a key without one commented out", () => {
      for (const [key, value] of defaults) {
        const given = valueAt(key);
        if (given === undefined) {
          expect(value, `${key} is missing from the example`).to.equal(undefined);
          const name = key.split('.').pop() ?? key;
          expect(text, `${key} has no default: shown as a comment`).to.match(new RegExp(`^\\s*# ${name}: `, 'm'));
        } else if (value !== undefined && !(Array.isArray(value) && value.length === 0)) {
          expect(given, key).to.deep.equal(value);
        }
      }
    });
  });
});
