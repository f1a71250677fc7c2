import { ServerInterceptingCall, status, type Metadata, type ServerInterceptor } from '@grpc/grpc-js';

/** The largest metadata (header list) a call may send; legitimate calls send well under 1 KiB. */
export const MAX_METADATA_BYTES = 16 * 1024;

/**
 * What the HTTP/2 layer accepts before gRPC sees the call (server-credentials.ts). Past it HTTP/2 itself resets
 * the stream, and Node then sends one of two codes depending on timing (ENHANCE_YOUR_CALM, which clients read
 * as RESOURCE_EXHAUSTED, or INTERNAL_ERROR); below it this interceptor answers, always RESOURCE_EXHAUSTED.
 */
export const MAX_HEADER_LIST_BYTES = 64 * 1024;

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

/** Refuses a call whose metadata is larger than MAX_METADATA_BYTES with RESOURCE_EXHAUSTED, before any handler. */
export const metadataLimit: ServerInterceptor = (_method, call) =>
  new ServerInterceptingCall(call, {
    start: (next) =>
      next({
        onReceiveMetadata: (metadata, passOn) => {
          if (metadataBytes(metadata) > MAX_METADATA_BYTES) {
            call.sendStatus({
              code: status.RESOURCE_EXHAUSTED,
              details: `the call's metadata is larger than ${MAX_METADATA_BYTES} bytes`,
            });
            return;
          }
          passOn(metadata);
        },
      }),
  });
