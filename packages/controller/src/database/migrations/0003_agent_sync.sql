-- The agent path (issue 8): host identity and stream ownership, VMs as agents report them, conflicts,
-- join tokens, operations and the commands that carry them out, and the global change log.
-- Timestamps are written by the application from its injected clock, like 0002's.

-- Hosts: what the agent says about itself, its credential (only its SHA-256), and which replica holds
-- its stream. stream_epoch grows each time a stream takes the host: every write a stream makes is
-- conditional on its own epoch, so a replaced stream can never apply anything.
alter table hosts
  add column agent_version    text,
  add column driver           text check (driver in ('libvirt', 'simulated')),
  add column hypervisor       text,
  add column libvirt_version  text,
  add column cpu_model        text,
  add column host_uuid        text,
  add column migration_uri    text,
  add column credential_hash  text,
  add column stream_replica   text,
  add column stream_epoch     bigint not null default 0,
  add column connected_at     timestamptz,
  add column disconnected_at  timestamptz;

-- The deadline sweep looks for connected hosts not seen for a while.
create index hosts_connected_last_seen_idx on hosts (last_seen_at) where status = 'connected';

-- VMs: libvirt's state names in snake_case (shutoff becomes shut_off, as virsh and the proto spell it).
alter table vms drop constraint vms_state_check;
update vms set state = 'shut_off' where state = 'shutoff';
alter table vms add constraint vms_state_check
  check (state in ('nostate', 'running', 'blocked', 'paused', 'shutdown', 'shut_off', 'crashed', 'pmsuspended'));

-- Names are unique per host in libvirt; checked at commit, so one batch may swap two names.
alter table vms drop constraint vms_host_id_name_key;
alter table vms add constraint vms_host_id_name_key unique (host_id, name) deferrable initially deferred;

alter table vms
  add column state_reason    text not null default '',
  add column max_memory_mib  integer check (max_memory_mib >= 0),
  add column persistent      boolean not null default true,
  add column autostart       boolean not null default false,
  -- When the host's agent last reported this record (a batch or a snapshot that carried it).
  add column confirmed_at    timestamptz;

-- Listing in the API's stable order, with keyset pagination.
create index vms_name_id_idx on vms (name, id);

-- A second host reporting a VM id that vms already holds on another host (outside a migration): kept
-- here, never merged into vms. `record` is the second host's whole record, so when the first host
-- drops the VM the second one's record takes its place.
create table vm_conflicts (
  vm_id          uuid not null,
  host_id        uuid not null references hosts (id) on delete cascade,
  name           text not null,
  state          text not null,
  record         jsonb not null,
  first_seen_at  timestamptz not null,
  last_seen_at   timestamptz not null,
  primary key (vm_id, host_id)
);
create index vm_conflicts_host_id_idx on vm_conflicts (host_id);

-- Credentials of deleted hosts: an agent still presenting one is told it was revoked (Goodbye REVOKED,
-- so it stops) rather than merely refused (which it retries, since a refusal may be a controller mistake).
create table revoked_hosts (
  host_id          uuid primary key,
  hostname         text not null,
  credential_hash  text not null,
  revoked_at       timestamptz not null
);

-- Single-use join tokens; only their SHA-256 is kept. Redeemed by one conditional update.
create table join_tokens (
  id               uuid primary key,
  token_hash       text not null unique,
  created_by       uuid,
  created_at       timestamptz not null,
  expires_at       timestamptz not null,
  used_at          timestamptz,
  used_by_host_id  uuid
);

-- What the REST API shows of a long-running thing (a power action today, a migration next).
create table operations (
  id             uuid primary key,
  kind           text not null
                 check (kind in ('vm.start', 'vm.stop', 'vm.force_stop', 'vm.restart', 'vm.reset', 'vm.pause', 'vm.resume')),
  vm_id          uuid,
  host_id        uuid references hosts (id) on delete set null,
  status         text not null check (status in ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
  progress       jsonb,
  error_code     text,
  error_message  text,
  requested_by   uuid,
  created_at     timestamptz not null,
  updated_at     timestamptz not null,
  finished_at    timestamptz
);
-- One unfinished operation per VM at a time: the guard is this index, so two concurrent requests
-- cannot both pass it.
create unique index operations_one_active_per_vm on operations (vm_id)
  where status in ('pending', 'running') and vm_id is not null;
create index operations_vm_id_idx on operations (vm_id, id);
create index operations_host_id_idx on operations (host_id, id);

-- Commands: written before they are sent; the agent runs each id at most once.
create table commands (
  id             uuid primary key,
  host_id        uuid not null references hosts (id) on delete cascade,
  operation_id   uuid references operations (id) on delete cascade,
  kind           text not null,
  -- The Command as the wire defines it (proto JSON), re-sent as is.
  payload        jsonb not null,
  status         text not null
                 check (status in ('pending', 'sent', 'running', 'succeeded', 'failed', 'cancelled', 'expired')),
  error_code     text,
  error_message  text,
  result         jsonb,
  deadline_at    timestamptz not null,
  created_at     timestamptz not null,
  sent_at        timestamptz,
  finished_at    timestamptz
);
create index commands_unfinished_idx on commands (host_id, id) where status in ('pending', 'sent', 'running');
create index commands_operation_id_idx on commands (operation_id);

-- The global change log: one row per change of a host, VM or operation, written in the transaction of
-- the change, `data` being the API view after it. Its id is the cursor of the coming change feed.
create table changes (
  id         bigint generated always as identity primary key,
  at         timestamptz not null,
  kind       text not null check (kind in ('host', 'vm', 'operation')),
  entity_id  uuid not null,
  op         text not null check (op in ('upsert', 'delete')),
  data       jsonb
);
