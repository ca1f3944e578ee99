-- Performance samples (issue 10): what agents measure every period (metrics.proto), kept raw for a day and
-- rolled up into 1-minute and 1-hour averages and maxima (metrics/metric-maintenance.ts keeps them).
--
-- Why this shape, for 1,000 hosts × 50 VMs every 10 s (5,000 VM rows a second, 432 million a day):
-- - One row per VM (or host) per sampling slot, every metric a column: a sample is one index entry, not
--   fifteen, and a series read fetches each slot once. Values are `real` (4 bytes, 7 significant digits:
--   16 GiB to within 1 KiB, a CPU share to 1e-5), NULL where the agent had no value (NULLs cost a bit).
-- - Range partitions by time (raw: one per hour, 1-minute rollups one per day, 1-hour rollups one per ten
--   days), created ahead by the controller: retention drops whole partitions instead of deleting rows,
--   so it costs no vacuum and no index churn however many rows it removes; inserts go to a small, hot
--   partition whose indexes stay in memory.
-- - Primary key (id, at) per partition: a series read is one index range scan of one VM; a re-sent
--   sample (a batch replayed after a reconnect) is ignored by ON CONFLICT. A BRIN index on `at` (a few
--   pages per partition, rows arrive in time order) serves the rollups, which read every VM's minute.
-- No foreign keys: samples outlive a deleted host or VM until retention takes them, and an insert checks
-- nothing but its own key.

create table metric_vm_raw (
  vm_id uuid not null,
  at timestamptz not null,
  cpu_percent real,
  memory_used_bytes real,
  memory_available_bytes real,
  memory_rss_bytes real,
  memory_current_bytes real,
  memory_unused_bytes real,
  memory_usable_bytes real,
  disk_read_bps real,
  disk_write_bps real,
  disk_read_iops real,
  disk_write_iops real,
  net_rx_bps real,
  net_tx_bps real,
  net_rx_pps real,
  net_tx_pps real,
  primary key (vm_id, at)
) partition by range (at);
create index metric_vm_raw_at_idx on metric_vm_raw using brin (at);

create table metric_host_raw (
  host_id uuid not null,
  at timestamptz not null,
  cpu_percent real,
  memory_total_bytes real,
  memory_used_bytes real,
  memory_available_bytes real,
  primary key (host_id, at)
) partition by range (at);
create index metric_host_raw_at_idx on metric_host_raw using brin (at);

-- 1-minute rollups: `at` starts the bucket; per metric the average and the maximum of the samples in it.
create table metric_vm_1m (
  vm_id uuid not null,
  at timestamptz not null,
  cpu_percent_avg real,
  cpu_percent_max real,
  memory_used_bytes_avg real,
  memory_used_bytes_max real,
  memory_available_bytes_avg real,
  memory_available_bytes_max real,
  memory_rss_bytes_avg real,
  memory_rss_bytes_max real,
  memory_current_bytes_avg real,
  memory_current_bytes_max real,
  memory_unused_bytes_avg real,
  memory_unused_bytes_max real,
  memory_usable_bytes_avg real,
  memory_usable_bytes_max real,
  disk_read_bps_avg real,
  disk_read_bps_max real,
  disk_write_bps_avg real,
  disk_write_bps_max real,
  disk_read_iops_avg real,
  disk_read_iops_max real,
  disk_write_iops_avg real,
  disk_write_iops_max real,
  net_rx_bps_avg real,
  net_rx_bps_max real,
  net_tx_bps_avg real,
  net_tx_bps_max real,
  net_rx_pps_avg real,
  net_rx_pps_max real,
  net_tx_pps_avg real,
  net_tx_pps_max real,
  primary key (vm_id, at)
) partition by range (at);
create index metric_vm_1m_at_idx on metric_vm_1m using brin (at);

-- 1-minute rollups: `at` starts the bucket; per metric the average and the maximum of the samples in it.
create table metric_host_1m (
  host_id uuid not null,
  at timestamptz not null,
  cpu_percent_avg real,
  cpu_percent_max real,
  memory_total_bytes_avg real,
  memory_total_bytes_max real,
  memory_used_bytes_avg real,
  memory_used_bytes_max real,
  memory_available_bytes_avg real,
  memory_available_bytes_max real,
  primary key (host_id, at)
) partition by range (at);
create index metric_host_1m_at_idx on metric_host_1m using brin (at);

-- 1-hour rollups: `at` starts the bucket; per metric the average and the maximum of the 1-minute averages and maxima in it.
create table metric_vm_1h (
  vm_id uuid not null,
  at timestamptz not null,
  cpu_percent_avg real,
  cpu_percent_max real,
  memory_used_bytes_avg real,
  memory_used_bytes_max real,
  memory_available_bytes_avg real,
  memory_available_bytes_max real,
  memory_rss_bytes_avg real,
  memory_rss_bytes_max real,
  memory_current_bytes_avg real,
  memory_current_bytes_max real,
  memory_unused_bytes_avg real,
  memory_unused_bytes_max real,
  memory_usable_bytes_avg real,
  memory_usable_bytes_max real,
  disk_read_bps_avg real,
  disk_read_bps_max real,
  disk_write_bps_avg real,
  disk_write_bps_max real,
  disk_read_iops_avg real,
  disk_read_iops_max real,
  disk_write_iops_avg real,
  disk_write_iops_max real,
  net_rx_bps_avg real,
  net_rx_bps_max real,
  net_tx_bps_avg real,
  net_tx_bps_max real,
  net_rx_pps_avg real,
  net_rx_pps_max real,
  net_tx_pps_avg real,
  net_tx_pps_max real,
  primary key (vm_id, at)
) partition by range (at);
create index metric_vm_1h_at_idx on metric_vm_1h using brin (at);

-- 1-hour rollups: `at` starts the bucket; per metric the average and the maximum of the 1-minute averages and maxima in it.
create table metric_host_1h (
  host_id uuid not null,
  at timestamptz not null,
  cpu_percent_avg real,
  cpu_percent_max real,
  memory_total_bytes_avg real,
  memory_total_bytes_max real,
  memory_used_bytes_avg real,
  memory_used_bytes_max real,
  memory_available_bytes_avg real,
  memory_available_bytes_max real,
  primary key (host_id, at)
) partition by range (at);
create index metric_host_1h_at_idx on metric_host_1h using brin (at);

-- How far each rollup tier is computed: buckets before `done_until` are done. Ingest reads the 1-minute
-- row FOR SHARE and the rollup locks it FOR UPDATE, so a sample either lands before a rollup reads its
-- minute or sees that it is late and marks its bucket pending.
create table metric_rollup_state (
  tier text primary key check (tier in ('1m', '1h')),
  done_until timestamptz
);
insert into metric_rollup_state (tier) values ('1m'), ('1h');

-- Buckets that received samples after they were rolled up (an agent's backlog after a reconnect): the
-- next rollup computes them again.
create table metric_rollup_pending (
  tier text not null check (tier in ('1m', '1h')),
  bucket timestamptz not null,
  primary key (tier, bucket)
);
