// The SDK's typed errors. A server's refusal carries Iggy's error code.
import { statusName } from './codes.js';

/** Every error the SDK throws is one of these (or an AbortSignal's reason). */
export class EddyError extends Error {
  override name = 'EddyError';
}

/** The server answered with an error status: `code` is Iggy's error code (e.g. 42 invalid
 * credentials, 1009 stream not found, 4022 payload too big). */
export class IggyError extends EddyError {
  override name = 'IggyError';
  constructor(readonly code: number, readonly command?: number) {
    super(`${statusName(code)} (${code})`);
  }
}

/** The connection closed before the reply came: `closeCode` is the WebSocket close code (e.g.
 * 1009 when a request is over the server's size limit, 1008 for a protocol violation). */
export class ConnectionClosed extends EddyError {
  override name = 'ConnectionClosed';
  constructor(readonly closeCode = 1006, readonly reason = '') {
    super(`connection closed (${closeCode}${reason ? `: ${reason}` : ''})`);
  }
}

/** The server sent bytes this SDK cannot read, or broke a promise of the protocol (for
 * example a push past the granted credit). */
export class ProtocolError extends EddyError {
  override name = 'ProtocolError';
}
