-- Login attempts in flight (issue 7, defect 1): an attempt is recorded here, under the advisory
-- locks of its throttle counters, before its password is checked, and removed when it settles, so
-- concurrent guesses count against the budget before any of them is answered. One row per counter
-- the attempt touches (pair, address, username). Rows of a process that died are ignored after a
-- minute and deleted with the forgotten counters.
create table login_attempts (
  key         text        not null,
  attempt_id  uuid        not null,
  started_at  timestamptz not null,
  primary key (key, attempt_id)
);
create index login_attempts_started_at on login_attempts (started_at);
