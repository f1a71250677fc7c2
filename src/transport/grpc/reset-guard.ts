import { ServerInterceptingCall, type ServerInterceptor } from '@grpc/grpc-js';

/** Where a connection's calls came from, as grpc-js reports it for each call. */
export interface CallOrigin {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
}

/**
 * Tells the listener of every call whose stream ended before its request message came: the client reset the
 * stream (RST_STREAM) or ended it empty, the one thing an HTTP/2 rapid-reset attacker (CVE-2023-44487) does in
 * bulk. Every method here is unary, so a well-behaved client always sends its request first (a client that gives
 * up on a call it has sent is not counted). The counting is per call and does not depend on the order in which
 * grpc-js reports the end of a call (it reports `onCancel` for every call, answered or not).
 */
export const resetGuard =
  (onEmptyCall: (origin: CallOrigin) => void): ServerInterceptor =>
  (_method, call) => {
    let received = false;
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMessage: (message, passOn) => {
            received = true;
            passOn(message);
          },
          onReceiveHalfClose: (passOn) => {
            if (!received) {
              onEmptyCall(call.getConnectionInfo());
            }
            passOn();
          },
        }),
    });
  };

/**
 * Empty calls a connection may make in a burst, and per second after it. nghttp2 answers more than 1,000
 * resets in a burst (then 33 per second) with GOAWAY and then stops reading the connection without closing it,
 * which left the socket and its unread buffers behind (issue 12). This bound is below nghttp2's at every moment,
 * so the listener closes the socket itself (at once) before nghttp2 gives up on it.
 */
export const RESET_BURST = 500;
export const RESETS_PER_SECOND = 30;

/**
 * A token bucket per connection: `take(count)` is false once the connection has made too many empty calls (or, in
 * the channelz sweep, failed streams).
 */
export function resetBudget(now: () => number = Date.now): { take(count?: number): boolean } {
  let tokens = RESET_BURST;
  let last = now();
  return {
    take(count = 1) {
      const time = now();
      tokens = Math.min(RESET_BURST, tokens + ((time - last) / 1000) * RESETS_PER_SECOND);
      last = time;
      tokens -= count;
      return tokens >= 0;
    },
  };
}
