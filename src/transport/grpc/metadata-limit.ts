import { ServerInterceptingCall, type Metadata, type ServerInterceptor } from '@grpc/grpc-js';
import { PROTOCOL_ERROR_TABLE } from '../error-table.js';
import type { RefuseCall } from './call-refusal.js';

/** The largest metadata (header list) a call may send; legitimate calls send well under 1 KiB. */
const MAX_METADATA_BYTES = 16 * 1024;

/*
 * Below this interceptor, Node's HTTP/2 layer has two fixed bounds of its own, and nothing public sets or advertises
 * them here: grpc-js's connection injector (grpc-listener.ts) makes its HTTP/2 server with Node's defaults and has
 * no option for them, and the only setting the server sends is SETTINGS_MAX_CONCURRENT_STREAMS (so grpc-core
 * clients, which honour a peer's SETTINGS_MAX_HEADER_LIST_SIZE, cannot refuse oversized metadata locally). What a
 * client sees there, measured and pinned by test/e2e/abuse.test.ts (README "Limits"):
 * - More than 128 entries (Node's `maxHeaderListPairs`): Node resets the stream before grpc-js sees the call, with
 *   ENHANCE_YOUR_CALM (the client reads RESOURCE_EXHAUSTED) or INTERNAL_ERROR (INTERNAL): Node defers its own
 *   reset while a write of the connection is in flight, and nghttp2's INTERNAL_ERROR then goes out first. Only that stream ends; the call is neither
 *   logged nor counted, because the server never sees it.
 * - One entry whose encoded value is over 64 KiB (nghttp2's HPACK bound): a connection error, GOAWAY with
 *   COMPRESSION_ERROR; every call on that connection fails (grpc-js: INTERNAL; grpc-core: UNAVAILABLE, or its
 *   deadline), and the server stops reading the connection until idleness or the keepalive ping closes it.
 * Everything else, e.g. 200 KiB in 8 KiB entries or one entry of 63 KiB, reaches this interceptor and is answered
 * RESOURCE_EXHAUSTED, always.
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
