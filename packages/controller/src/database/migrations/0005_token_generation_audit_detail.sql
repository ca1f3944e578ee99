-- Access tokens end with the sessions (issue 7): a password change, a disable or a role change adds
-- one to the user's token generation, and an access token carries the generation it was issued in
-- (claim `gen`); one from an earlier generation is refused. A counter, not a "valid after" time: exact
-- within the same millisecond and immune to clocks that differ between replicas.
alter table users add column token_generation integer not null default 0;

-- What an audited call changed (issue 7): the target's name, the role granted, which field. Plain
-- JSON written by the services' audit notes; null when the call says nothing more than its action.
alter table audit_log add column detail jsonb;
create index audit_log_actor_username on audit_log (actor_username, id);
create index audit_log_target on audit_log (target, id);
create index audit_log_at on audit_log (at);
