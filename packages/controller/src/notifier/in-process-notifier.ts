import type { Logger } from 'pino';
import { type Notifier, Subscribers, type Topic } from './notifier.ts';

/**
 * The embedded database's notifier: one controller per data folder, so every signal stays in this
 * process. Delivered on a later microtask, like a notification after a commit, never inside the
 * publisher's own call.
 */
export function createInProcessNotifier(log: Logger): Notifier {
  const subscribers = new Subscribers();
  const onError = (err: unknown) => log.error({ err }, 'notification handler failed');
  return {
    publish: async (topic: Topic, payload: string) => {
      queueMicrotask(() => subscribers.dispatch(topic, payload, onError));
    },
    subscribe: (topic, handler) => subscribers.add(topic, handler),
    onResync: (handler) => subscribers.addResync(handler),
    close: async () => undefined,
  };
}
