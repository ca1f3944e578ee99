import type { Socket } from 'node:net';

/**
 * Resolves once `sock` emits `event` (connect, secureConnect); rejects with the socket's error, or
 * with the signal's reason when it fires first. Listeners are removed either way; the caller
 * destroys the socket on failure.
 */
export function socketReady(sock: Socket, event: string, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const cleanup = () => {
      sock.off(event, onReady);
      sock.off('error', onError);
      signal.removeEventListener('abort', onAbort);
    };
    const onReady = () => {
      cleanup();
      resolve();
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onAbort = () => onError(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (signal.aborted) {
      onAbort();
      return;
    }
    sock.once(event, onReady);
    sock.once('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
