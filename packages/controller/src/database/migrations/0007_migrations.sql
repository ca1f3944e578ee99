-- Live migrations (issue 9). A migration is also an operation (kind vm.migrate, the same id), so the
-- one-unfinished-operation-per-VM index keeps a power action and a migration of one VM apart, and
-- ?wait on /operations works for both. This table holds what only a migration has: its options, the
-- commands of its steps, what the agents reported, and the coordinator's lease.
alter table operations drop constraint operations_kind_check;
alter table operations add constraint operations_kind_check
  check (kind in ('vm.start', 'vm.stop', 'vm.force_stop', 'vm.restart', 'vm.reset', 'vm.pause', 'vm.resume',
                  'vm.migrate'));

-- A VM's disks as its host reports them (the wire's Disk, proto JSON): a migration with copy_storage
-- all or inc tells the destination which images to ready.
alter table vms add column disks jsonb not null default '[]';

create table migrations (
  id                           uuid primary key references operations (id) on delete cascade,
  vm_id                        uuid not null,
  vm_name                      text not null,
  -- The VM's state when the migration was asked for: one that was paused arrives paused.
  vm_state                     text not null,
  source_host_id               uuid references hosts (id) on delete set null,
  destination_host_id          uuid references hosts (id) on delete set null,
  status                       text not null
                               check (status in ('initiated', 'preparing', 'migrating', 'completed', 'failed', 'cancelled')),
  -- The request: the seed's payload and the optional tuning.
  live                         boolean not null,
  persistent                   boolean not null,
  undefine_source              boolean not null,
  copy_storage                 text not null check (copy_storage in ('none', 'all', 'inc')),
  bandwidth_mibps              bigint not null default 0 check (bandwidth_mibps >= 0),
  max_downtime_ms              bigint not null default 0 check (max_downtime_ms >= 0),
  auto_converge                boolean not null default false,
  compression                  boolean not null default false,
  allow_post_copy              boolean not null default false,
  completion_timeout_s         integer not null default 0 check (completion_timeout_s >= 0),
  -- libvirt's job statistics from the source's latest RUNNING (or final) update.
  progress                     jsonb,
  error_code                   text,
  error_message                text,
  requested_by                 uuid,
  -- The commands of its steps, each written once by the coordinator that holds the lease.
  prepare_command_id           uuid,
  perform_command_id           uuid,
  cancel_command_id            uuid,
  force_complete_command_id    uuid,
  -- What the destination's prepare answered (the URI the source's libvirtd connects to).
  connect_uri                  text,
  migrate_uri                  text,
  cancel_requested_at          timestamptz,
  force_complete_requested_at  timestamptz,
  -- While it runs, the destination's reports of the VM are kept here rather than in vms (where they
  -- would be a conflict: a VM is never shown on two hosts), and the source's report that the VM left
  -- it is noted rather than applied; completion moves the VM in one transaction.
  destination_record           jsonb,
  -- When the destination first reported the incoming VM (its later removal means libvirt gave up).
  destination_seen_at          timestamptz,
  source_removed_at            timestamptz,
  -- The coordinator's lease: one replica drives the migration; every step it takes is conditional on
  -- its epoch, which grows with each takeover, so a stale owner cannot act.
  coordinator                  text,
  lease_epoch                  bigint not null default 0,
  lease_expires_at             timestamptz,
  created_at                   timestamptz not null,
  updated_at                   timestamptz not null,
  finished_at                  timestamptz
);
-- One unfinished migration per VM (the operations index already guarantees it; this one is what the
-- sync ingest looks a VM up by).
create unique index migrations_one_active_per_vm on migrations (vm_id)
  where status in ('initiated', 'preparing', 'migrating');
create index migrations_vm_id_idx on migrations (vm_id, id);
create index migrations_source_host_id_idx on migrations (source_host_id, id);
create index migrations_destination_host_id_idx on migrations (destination_host_id, id);
create index migrations_status_idx on migrations (status, id);
