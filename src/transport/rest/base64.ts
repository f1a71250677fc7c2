import { invalidArgument } from '../../domain/errors.js';

/**
 * Decodes standard, padded base64 (OpenAPI `format: byte`) strictly: Node's decoder ignores stray characters and
 * non-zero padding bits, so the result is re-encoded and must read back identically.
 */
export function decodeBase64Field(field: string, text: string): Uint8Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) {
    throw invalidArgument(`${field} is not canonical padded base64`);
  }
  return new Uint8Array(bytes);
}
