import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/test-database.ts';
import { systemClock } from '../clock.ts';
import { createLogger } from '../log.ts';
import { createInProcessNotifier } from '../notifier/in-process-notifier.ts';
import { createCommandService } from './command-service.ts';

describe('routing a command after its commit', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('a failed signal is logged, not thrown: the action was taken, and the pending-command poll sends it', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = createLogger('debug', { write: (line: string) => void lines.push(JSON.parse(line)) });
    const notifier = {
      ...createInProcessNotifier(log),
      publish: () =>
        Promise.reject(Object.assign(new Error('Connection terminated'), { code: 'ECONNRESET' })),
    };
    const commands = createCommandService({ sql: db.sql, clock: systemClock, notifier, log });
    await expect(commands.route('0190a4b4-0000-7000-8000-000000000001', 'c-1')).resolves.toBeUndefined();
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 40,
        commandId: 'c-1',
        msg: 'notify failed; the pending-command poll sends it',
      }),
    );
  });
});
