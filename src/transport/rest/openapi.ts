import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

/**
 * Request validation from the project's own OpenAPI files (README "What the server checks, and where"): the gateway
 * hands the schemas of each operation to Fastify's JSON-schema validator instead of checking shapes by hand, so the
 * file that documents the API is the file that enforces it.
 */
type JsonObject = { [key: string]: unknown };

interface Parameter {
  name: string;
  in: 'path' | 'header' | 'query' | 'cookie';
  required?: boolean;
  schema?: JsonObject;
}

export interface RouteSchemas {
  readonly body?: JsonObject;
  readonly params?: JsonObject;
  readonly headers?: JsonObject;
  readonly querystring?: JsonObject;
}

export interface OpenApiOperation {
  readonly method: string;
  /** The path in Fastify's syntax: `/key-capsules/:transactionId`. */
  readonly url: string;
  readonly schemas: RouteSchemas;
}

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Inlines local `$ref`s and drops documentation-only keywords that a strict JSON-schema validator rejects. */
function toJsonSchema(node: unknown, document: JsonObject, seen: readonly string[] = []): unknown {
  if (Array.isArray(node)) {
    return node.map((item) => toJsonSchema(item, document, seen));
  }
  if (!isObject(node)) {
    return node;
  }
  const ref = node['$ref'];
  if (typeof ref === 'string') {
    if (!ref.startsWith('#/') || seen.includes(ref)) {
      throw new Error(`unsupported or circular $ref ${ref}`);
    }
    const target = ref
      .slice(2)
      .split('/')
      .reduce<unknown>((at, key) => (isObject(at) ? at[key] : undefined), document);
    if (target === undefined) {
      throw new Error(`unresolved $ref ${ref}`);
    }
    return toJsonSchema(target, document, [...seen, ref]);
  }
  const result: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('x-') || key === 'example' || key === 'examples' || key === 'title') {
      continue;
    }
    // Under `properties` the keys are field names, not keywords: keep every one of them.
    result[key] =
      key === 'properties' && isObject(value)
        ? Object.fromEntries(
            Object.entries(value).map(([name, schema]) => [name, toJsonSchema(schema, document, seen)]),
          )
        : toJsonSchema(value, document, seen);
  }
  return result;
}

function parametersSchema(parameters: readonly Parameter[], location: Parameter['in']): JsonObject | undefined {
  const selected = parameters.filter((parameter) => parameter.in === location);
  if (selected.length === 0) {
    return undefined;
  }
  // Header names are case-insensitive; Node hands them over in lower case.
  const name = (parameter: Parameter): string =>
    location === 'header' ? parameter.name.toLowerCase() : parameter.name;
  return {
    type: 'object',
    properties: Object.fromEntries(selected.map((parameter) => [name(parameter), parameter.schema ?? {}])),
    required: selected.filter((parameter) => parameter.required).map(name),
  };
}

/** Reads an OpenAPI 3.0 document and returns each operation's route and request schemas, by operationId. */
export function loadOpenApiOperations(file: string): ReadonlyMap<string, OpenApiOperation> {
  const document = parseYaml(readFileSync(file, 'utf8')) as JsonObject;
  const operations = new Map<string, OpenApiOperation>();
  const paths = isObject(document['paths']) ? document['paths'] : {};
  for (const [path, item] of Object.entries(paths)) {
    if (!isObject(item)) {
      continue;
    }
    for (const [method, raw] of Object.entries(item)) {
      if (!isObject(raw) || typeof raw['operationId'] !== 'string') {
        continue;
      }
      const operation = toJsonSchema(raw, document) as JsonObject;
      const parameters = (operation['parameters'] ?? []) as Parameter[];
      const requestBody = operation['requestBody'] as { content?: Record<string, { schema?: JsonObject }> } | undefined;
      const body = requestBody?.content?.['application/json']?.schema;
      const params = parametersSchema(parameters, 'path');
      const headers = parametersSchema(parameters, 'header');
      const querystring = parametersSchema(parameters, 'query');
      operations.set(raw['operationId'], {
        method: method.toUpperCase(),
        url: path.replace(/\{([^}]+)\}/g, ':$1'),
        schemas: {
          ...(body ? { body } : {}),
          ...(params ? { params } : {}),
          ...(headers ? { headers } : {}),
          ...(querystring ? { querystring } : {}),
        },
      });
    }
  }
  return operations;
}

export function requireOperation(operations: ReadonlyMap<string, OpenApiOperation>, id: string): OpenApiOperation {
  const operation = operations.get(id);
  if (!operation) {
    throw new Error(`the OpenAPI document has no operation ${id}`);
  }
  return operation;
}
