import { appendFile, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/temp-dir.ts';
import { CommandRecord, INTERRUPTED, NOT_RECORDED } from './command-record.ts';

const tempFile = async () => join(tempDir('commands-'), 'commands.jsonl');
const failed = (code: string) => ({ status: 'failed' as const, error: { code, message: code } });

describe('CommandRecord', () => {
  it('remembers accepted commands and their outcomes across a reopen, ids compared whatever their case', async () => {
    const path = await tempFile();
    const { record } = await CommandRecord.open(path);
    await record.accept('0190AAAA-0000-7000-8000-000000000001');
    await record.finish('0190AAAA-0000-7000-8000-000000000001', { status: 'succeeded' });
    await record.accept('0190aaaa-0000-7000-8000-000000000002');
    await record.finish('0190aaaa-0000-7000-8000-000000000002', failed('OPERATION_INVALID'));
    await record.close();

    const { record: again, interrupted } = await CommandRecord.open(path);
    expect(interrupted).toEqual([]);
    expect(again.get('0190aaaa-0000-7000-8000-000000000001')?.outcome).toEqual({ status: 'succeeded' });
    expect(again.get('0190AAAA-0000-7000-8000-000000000002')?.outcome).toEqual(failed('OPERATION_INVALID'));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await again.close();
  });

  it('an acceptance that could not be written leaves the id answered as not run (NOT_RECORDED), not running', async () => {
    const dir = tempDir('commands-');
    const path = join(dir, 'gone', 'commands.jsonl');
    const { record } = await CommandRecord.open(path);
    await expect(record.accept('0190aaaa-0000-7000-8000-000000000003')).rejects.toThrow();
    expect(record.get('0190AAAA-0000-7000-8000-000000000003')?.outcome).toEqual(NOT_RECORDED);
    expect(record.statusCounts()).toEqual({ running: 0, succeeded: 0, failed: 1 });
    // The record goes on once it can write again.
    await mkdir(join(dir, 'gone'));
    await record.accept('0190aaaa-0000-7000-8000-000000000004');
    expect(record.get('0190aaaa-0000-7000-8000-000000000004')?.outcome).toBeUndefined();
    await record.close();
  });

  it('an id accepted but unfinished when reopened (the agent died) is INTERRUPTED, for good', async () => {
    const path = await tempFile();
    const { record } = await CommandRecord.open(path);
    await record.accept('c-1');
    // No finish, no close: the process "died" here.
    const { record: second, interrupted } = await CommandRecord.open(path);
    expect(interrupted).toEqual(['c-1']);
    expect(second.get('c-1')?.outcome).toEqual(INTERRUPTED);
    await second.close();
    const { record: third, interrupted: again } = await CommandRecord.open(path);
    expect(again).toEqual([]);
    expect(third.get('c-1')?.outcome).toEqual(INTERRUPTED);
    await third.close();
  });

  it('keeps what a command noted while it ran across its interruption and every rewrite', async () => {
    const path = await tempFile();
    const { record } = await CommandRecord.open(path);
    await record.accept('perform-1');
    await record.note('PERFORM-1', { copiedImages: ['/var/lib/libvirt/images/a.qcow2'] });
    // A note for an id never accepted is not kept.
    await record.note('unknown', { copiedImages: ['/x'] });
    // The agent dies while the perform runs; the next start rewrites the file, and so does the one after.
    const { record: second, interrupted } = await CommandRecord.open(path);
    expect(interrupted).toEqual(['perform-1']);
    await second.close();
    const { record: third } = await CommandRecord.open(path);
    expect(third.get('perform-1')).toMatchObject({
      outcome: INTERRUPTED,
      note: { copiedImages: ['/var/lib/libvirt/images/a.qcow2'] },
    });
    expect(third.get('unknown')).toBeUndefined();
    await third.close();
  });

  it('skips a line torn by a crash mid-write', async () => {
    const path = await tempFile();
    const { record } = await CommandRecord.open(path);
    await record.accept('c-1');
    await record.finish('c-1', { status: 'succeeded' });
    await record.close();
    await appendFile(path, '{"id":"c-2","at":17,"outc');
    const { record: reopened, interrupted } = await CommandRecord.open(path);
    expect(interrupted).toEqual([]);
    expect(reopened.get('c-1')?.outcome).toEqual({ status: 'succeeded' });
    expect(reopened.get('c-2')).toBeUndefined();
    // What comes after the torn line is whole again.
    await reopened.accept('c-3');
    await reopened.finish('c-3', { status: 'succeeded' });
    await reopened.close();
    const { record: third } = await CommandRecord.open(path);
    expect(third.get('c-3')?.outcome).toEqual({ status: 'succeeded' });
    await third.close();
  });

  it('is bounded: keeps the newest entries, forgets old ones, never an unfinished one', async () => {
    const path = await tempFile();
    let now = 1_000_000;
    const { record } = await CommandRecord.open(path, { maxEntries: 10, maxAgeMs: 60_000, now: () => now });
    await record.accept('running');
    for (let i = 0; i < 50; i++) {
      await record.accept(`c-${i}`);
      await record.finish(`c-${i}`, { status: 'succeeded' });
    }
    // Compaction runs when the file reaches twice the bound; the map is trimmed with it.
    expect(record.size).toBeLessThanOrEqual(2 * 10 + 1);
    expect(record.get('running')).toBeDefined();
    expect(record.get('c-49')).toBeDefined();
    expect(record.get('c-0')).toBeUndefined();
    await record.close();
    const lines = (await readFile(path, 'utf8')).trim().split('\n');
    expect(lines.length).toBeLessThanOrEqual(4 * 10 + 2);

    const options = { maxEntries: 10, maxAgeMs: 60_000, now: () => now };
    const { record: reopened } = await CommandRecord.open(path, options);
    expect(reopened.get('c-49')?.outcome).toEqual({ status: 'succeeded' });
    expect(reopened.get('running')?.outcome).toEqual(INTERRUPTED);
    await reopened.close();

    now += 120_000;
    const { record: later } = await CommandRecord.open(path, options);
    expect(later.get('c-49')).toBeUndefined();
    expect(later.get('running')).toBeUndefined();
    expect(later.size).toBe(0);
    await later.close();
  });
});
