-- Users, refresh-token families, login throttling and the audit log.
-- Every timestamp is written by the application from its injected clock (never now()), so tests
-- can move time and replicas agree on one source of truth per request.

create table users (
  id uuid primary key,
  username text not null unique,
  password_hash text not null,
  role text not null check (role in ('viewer', 'operator', 'admin')),
  disabled_at timestamptz,
  created_at timestamptz not null,
  updated_at timestamptz not null
);

-- One family per login; every refresh adds a token to it. Reuse of a spent token revokes the family.
create table refresh_token_families (
  id uuid primary key,
  user_id uuid not null references users (id) on delete cascade,
  created_at timestamptz not null,
  revoked_at timestamptz,
  revoked_reason text
);
create index refresh_token_families_user_id on refresh_token_families (user_id);

-- Only the SHA-256 of each token is kept: a leaked table does not yield usable tokens.
create table refresh_tokens (
  token_hash text primary key,
  family_id uuid not null references refresh_token_families (id) on delete cascade,
  issued_at timestamptz not null,
  expires_at timestamptz not null,
  used_at timestamptz
);
create index refresh_tokens_family_id on refresh_tokens (family_id);

-- Failed-login counters, keyed by client address, by username, and by the pair. In PostgreSQL so
-- that every controller replica enforces the same limits.
create table login_throttle (
  key text primary key,
  failures integer not null,
  last_failure_at timestamptz not null,
  blocked_until timestamptz
);
create index login_throttle_last_failure_at on login_throttle (last_failure_at);

-- Who did what to which target, and how it ended. No foreign key to users: rows outlive the user.
create table audit_log (
  id bigint generated always as identity primary key,
  at timestamptz not null,
  request_id text,
  actor_id uuid,
  actor_username text,
  action text not null,
  method text not null,
  path text not null,
  target text,
  result text not null,
  status integer not null,
  client_address text
);
