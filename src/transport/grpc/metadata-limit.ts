import { ServerInterceptingCall, type Metadata, type ServerInterceptor } from '@grpc/grpc-js';
import { PROTOCOL_ERROR_TABLE } from '../error-table.js';
import type { RefuseCall } from './call-refusal.js';

/** The largest metadata (header list) a call may send; legitimate calls send well under 1 KiB. */
const MAX_METADATA_BYTES = 16 * 1024;

/*
 * Below this interceptor, Node's HTTP/2 layer has fixed bounds of its own (grpc-js's connection injector gives no
 * way to set them, grpc-listener.ts): more than 128 header fields reset the stream with a code that races between
 * ENHANCE_YOUR_CALM (RESOURCE_EXHAUSTED for the client) and INTERNAL_ERROR, and a single field past 64 KiB is an
 * HPACK connection error (COMPRESSION_ERROR). Everything else, e.g. 200 KiB in 8 KiB fields, reaches this
 * interceptor and is answered RESOURCE_EXHAUSTED, always (README "Limits").
 */

/** A header list's size as HTTP/2 counts it (RFC 9113 6.5.2: name, value and 32 octets per field). */
function metadataBytes(metadata: Metadata): number {
  let total = 0;
  for (const [name, value] of Object.entries(metadata.toHttp2Headers())) {
    for (const item of Array.isArray(value) ? value : [value]) {
      total += name.length + String(item).length + 32;
    }
  }
  return total;
}

/**
 * Refuses a call whose metadata is larger than MAX_METADATA_BYTES with RESOURCE_EXHAUSTED, before any handler,
 * recorded as `header_fields_too_large`: the outcome of the REST gateway's 431 for the same excess.
 */
export const metadataLimit =
  (refuse: RefuseCall): ServerInterceptor =>
  (method, call) =>
    new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, passOn) => {
            if (metadataBytes(metadata) > MAX_METADATA_BYTES) {
              refuse(
                method,
                call,
                PROTOCOL_ERROR_TABLE.header_fields_too_large,
                `the call's metadata is larger than ${MAX_METADATA_BYTES} bytes`,
              );
              return;
            }
            passOn(metadata);
          },
        }),
    });
