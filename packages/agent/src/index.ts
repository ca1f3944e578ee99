// @cockpit/agent: the node agent as a library (the `cockpit-agent` command is a thin wrapper of it), so
// tests and the scale benchmark can run many agents in one process.
// Re-exported: how a sample's present_fields bits are read lives with the wire types.
export { HOST_FIELDS, hostValue, VM_FIELDS, vmValue } from '@cockpit/proto';
export {
  type AgentHandle,
  type AgentOptions,
  AgentStartError,
  type AgentStatus,
  type AgentStop,
  isAgentStartError,
  startAgent,
} from './agent.ts';
export {
  type AgentConfig,
  type LogLevel,
  type ParsedCommandLine,
  parseCommandLine,
  type SimulatedConfig,
  type TlsConfig,
} from './config/agent-config.ts';
export { ConfigError, type ConfigProblem, isConfigError } from './config/config-error.ts';
export type { BackoffOptions } from './connection/backoff.ts';
export type { DriverSink, HypervisorDriver, PowerOperation, PowerOptions } from './driver/driver.ts';
export { DriverError, isDriverError, isVmNotFound } from './driver/driver-error.ts';
export { SharedTicker } from './driver/simulated/shared-ticker.ts';
export { SimulatedDriver, type SimulatedDriverOptions } from './driver/simulated/simulated-driver.ts';
export { createLogger } from './log/logger.ts';
export type { MetricsStatus } from './metrics/agent-metrics.ts';
export type {
  CounterReading,
  CounterSource,
  DiskCounters,
  HostCounters,
  NetCounters,
  VmCounters,
} from './metrics/counters.ts';
export {
  DEFAULT_METRICS_CONFIG,
  DEFAULT_METRICS_LISTEN,
  type ListenAddress,
  type MetricsConfig,
} from './metrics/metrics-config.ts';
export { isMetricsEndpointError, MetricsEndpointError } from './metrics/metrics-endpoint.ts';
export { AGENT_VERSION } from './version.ts';
