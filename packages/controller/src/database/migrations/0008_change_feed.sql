-- The change log as a feed (issue 8's per-replica VM cache): every replica tails `changes` after the
-- version its cache holds. Identity ids are taken at insert time, not at commit, so under concurrent
-- transactions a row with a smaller id can become visible after a larger one; a reader that only asked
-- for "id > last seen" would skip it for good. Each row therefore records the id of the transaction that
-- wrote it: a reader also takes the snapshot its read ran in (pg_current_snapshot()), and asks the next
-- time for the rows of every transaction that snapshot did not see yet (in progress, or not started),
-- whatever their ids (src/changes/change-tail.ts).
alter table changes add column xid xid8 not null default pg_current_xact_id();
create index changes_xid_idx on changes (xid, id);

-- The rows a reader has not seen: above the largest id it saw, or (below it) written by a transaction its
-- previous snapshot did not see (in progress: `unseen`; not started: its xmax, `next_xid`, and above). Three index
-- ranges; in a function for the settings, as the planner, misled by a fast-growing table's statistics,
-- otherwise chose a parallel sequential scan of the whole log (400 ms at 150,000 rows under bench:sync).
-- `skip`: rows the reader already has (its own writes, applied at their commit). STABLE: it reads in the
-- snapshot of the statement that calls it (so does pg_current_snapshot() there).
create function changes_after(seen_top bigint, unseen xid8[], next_xid xid8, kinds text[], skip bigint[])
  returns table (id bigint, kind text, entity_id uuid, op text, data jsonb)
  language plpgsql stable
  set max_parallel_workers_per_gather = 0
  set enable_seqscan = off
as $$
begin
  return query
    select c.id, c.kind, c.entity_id, c.op, c.data from changes c
    where c.id > seen_top and c.kind = any(kinds) and c.id <> all(skip)
    union all
    select c.id, c.kind, c.entity_id, c.op, c.data from changes c
    where c.xid = any(unseen) and c.id <= seen_top and c.kind = any(kinds) and c.id <> all(skip)
    union all
    select c.id, c.kind, c.entity_id, c.op, c.data from changes c
    where c.xid >= next_xid and c.id <= seen_top and c.kind = any(kinds) and c.id <> all(skip);
end $$;

-- Wakes the tailing replicas: one notification per transaction that logged changes (PostgreSQL folds
-- identical ones of a transaction into one), sent at its commit, never for a rollback. The embedded
-- database has no listener: its single controller reads through the same tail on each read.
create function changes_notify() returns trigger language plpgsql as $$
begin
  perform pg_notify('cockpit_changes', '');
  return null;
end $$;
create trigger changes_notify after insert on changes for each statement execute function changes_notify();

-- The VM list's order is by code point ("C"), whatever the database's collation: the per-replica cache
-- sorts the same way without a copy of the server's locale rules.
drop index vms_name_id_idx;
create index vms_name_id_idx on vms (name collate "C", id);
