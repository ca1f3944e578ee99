import type { Logger } from 'pino';
import type { Sql } from '../database/sql.ts';
import { type Notifier, Subscribers, TOPICS, type Topic } from './notifier.ts';

/**
 * LISTEN/NOTIFY on a PostgreSQL server shared by several replicas. `postgres` keeps one dedicated
 * listening connection and re-listens after losing it (a restarted server, pg_terminate_backend);
 * each (re)listen triggers the resync handlers, since notifications sent while it was gone are lost.
 */
export async function createPostgresNotifier(sql: Sql, log: Logger): Promise<Notifier> {
  const subscribers = new Subscribers();
  const onError = (err: unknown) => log.error({ err }, 'notification handler failed');
  const channelTopic = new Map<string, Topic>(
    (Object.entries(TOPICS) as Array<[Topic, string]>).map(([topic, channel]) => [channel, topic]),
  );
  const listening: Array<{ unlisten: () => Promise<void> }> = [];
  let first = true;
  for (const [channel, topic] of channelTopic) {
    listening.push(
      await sql.listen(
        channel,
        (payload) => subscribers.dispatch(topic, payload, onError),
        () => {
          // Called on the first listen too; only later ones mean signals may have been missed.
          if (!first) {
            log.info({ channel }, 'listening again after losing the notification connection');
            subscribers.resync(onError);
          }
        },
      ),
    );
  }
  first = false;
  return {
    publish: async (topic, payload) => {
      await sql.notify(TOPICS[topic], payload);
    },
    subscribe: (topic, handler) => subscribers.add(topic, handler),
    onResync: (handler) => subscribers.addResync(handler),
    close: async () => {
      await Promise.allSettled(listening.map((l) => l.unlisten()));
    },
  };
}
