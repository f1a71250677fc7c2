// The gRPC API reference (docs/grpc-api.md), generated from the contracts and their comments in proto/.
// Runs offline: `buf build` compiles proto/ with its source info, @bufbuild/protobuf reads the descriptors.
// `npm run gen` writes it; scripts/check-gen.mjs (part of `npm test`) fails when it is stale.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { FieldDescriptorProto_Label, FieldDescriptorProto_Type, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

export const REFERENCE_FILE = join('docs', 'grpc-api.md');

// Field numbers of descriptor.proto, as source-info paths use them.
const FILE_SYNTAX = 12;
const FILE_MESSAGE = 4;
const FILE_ENUM = 5;
const FILE_SERVICE = 6;
const MESSAGE_FIELD = 2;
const MESSAGE_NESTED = 3;
const MESSAGE_ENUM = 4;
const ENUM_VALUE = 2;
const SERVICE_METHOD = 2;

const SCALARS = Object.fromEntries(
  Object.entries(FieldDescriptorProto_Type)
    .filter(([name]) => Number.isNaN(Number(name)))
    .map(([name, number]) => [number, name.toLowerCase()]),
);

/** A comment as one line of Markdown table text. */
const oneLine = (text) =>
  (text ?? '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join(' ')
    .replaceAll('|', '\\|');

function commentsOf(file) {
  const byPath = new Map();
  for (const location of file.sourceCodeInfo?.location ?? []) {
    byPath.set(location.path.join('.'), location);
  }
  return {
    leading: (path) => oneLine(byPath.get(path.join('.'))?.leadingComments),
    detached: (path) => (byPath.get(path.join('.'))?.leadingDetachedComments ?? []).map(oneLine),
  };
}

/** `.cdoc2.capsules.v1.Capsule` → `Capsule` within its own package, the full name otherwise. */
const typeName = (file, name) =>
  name.startsWith(`.${file.package}.`) ? name.slice(file.package.length + 2) : name.slice(1);

function fieldType(file, field) {
  const base =
    field.type === FieldDescriptorProto_Type.MESSAGE || field.type === FieldDescriptorProto_Type.ENUM
      ? typeName(file, field.typeName)
      : SCALARS[field.type];
  return field.label === FieldDescriptorProto_Label.REPEATED ? `repeated ${base}` : base;
}

function renderMessages(file, comments, messages, path, prefix, out) {
  messages.forEach((message, index) => {
    const here = [...path, index];
    const name = `${prefix}${message.name}`;
    out.push(`### message ${name}`, '');
    const comment = comments.leading(here);
    if (comment) out.push(comment, '');
    if (message.field.length > 0) {
      out.push('| field | number | type | description |', '|---|---|---|---|');
      message.field.forEach((field, fieldIndex) => {
        const description = comments.leading([...here, MESSAGE_FIELD, fieldIndex]);
        out.push(`| \`${field.name}\` | ${field.number} | \`${fieldType(file, field)}\` | ${description} |`);
      });
      out.push('');
    }
    renderEnums(comments, message.enumType, [...here, MESSAGE_ENUM], `${name}.`, out);
    renderMessages(file, comments, message.nestedType, [...here, MESSAGE_NESTED], `${name}.`, out);
  });
}

function renderEnums(comments, enums, path, prefix, out) {
  enums.forEach((enumType, index) => {
    const here = [...path, index];
    out.push(`### enum ${prefix}${enumType.name}`, '');
    const comment = comments.leading(here);
    if (comment) out.push(comment, '');
    out.push('| value | number | description |', '|---|---|---|');
    enumType.value.forEach((value, valueIndex) => {
      out.push(`| \`${value.name}\` | ${value.number} | ${comments.leading([...here, ENUM_VALUE, valueIndex])} |`);
    });
    out.push('');
  });
}

function renderFile(file, out) {
  const comments = commentsOf(file);
  out.push(`## ${file.package} (\`proto/${file.name}\`)`, '');
  for (const paragraph of [...comments.detached([FILE_SYNTAX]), comments.leading([FILE_SYNTAX])].filter(Boolean)) {
    out.push(paragraph, '');
  }
  file.service.forEach((service, index) => {
    const here = [FILE_SERVICE, index];
    out.push(`### service ${service.name}`, '');
    const comment = comments.leading(here);
    if (comment) out.push(comment, '');
    out.push('| method | request | response | description |', '|---|---|---|---|');
    service.method.forEach((method, methodIndex) => {
      const request = `${method.clientStreaming ? 'stream ' : ''}${typeName(file, method.inputType)}`;
      const response = `${method.serverStreaming ? 'stream ' : ''}${typeName(file, method.outputType)}`;
      const description = comments.leading([...here, SERVICE_METHOD, methodIndex]);
      out.push(`| \`${method.name}\` | \`${request}\` | \`${response}\` | ${description} |`);
    });
    out.push('');
  });
  renderMessages(file, comments, file.messageType, [FILE_MESSAGE], '', out);
  renderEnums(comments, file.enumType, [FILE_ENUM], '', out);
}

/** The reference as Markdown, from the proto files of the repository at `root`. */
export function renderReference(root) {
  const image = execFileSync(join(root, 'node_modules', '.bin', 'buf'), ['build', '--exclude-imports', '-o', '-'], {
    cwd: root,
    maxBuffer: 64 * 1024 * 1024,
  });
  const files = fromBinary(FileDescriptorSetSchema, image).file.sort((a, b) => a.name.localeCompare(b.name));
  const out = [
    '# gRPC API reference',
    '',
    '<!-- Generated by `npm run gen` (scripts/grpc-api-reference.mjs) from the comments in proto/: edit those. -->',
    '',
    'Every service, message and enum of the contracts in `proto/`, with the comments written there. How to call',
    'them, and what each error means, is in the README ("Using the API").',
    '',
  ];
  for (const file of files) {
    renderFile(file, out);
  }
  return `${out.join('\n').trimEnd()}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = new URL('..', import.meta.url).pathname;
  writeFileSync(join(root, REFERENCE_FILE), renderReference(root));
  console.log(`wrote ${REFERENCE_FILE}`);
}
