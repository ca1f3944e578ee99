export { DomainApi, type DomainInfo, type DomainState, type DomainStats } from './api/domain-api.ts';
export { HostApi, type NodeInfo } from './api/host-api.ts';
export { type DomainJobInfo, JobApi, type JobStats } from './api/job-api.ts';
export { type MigrateParams, migrateParamsToTyped } from './api/migrate-params.ts';
export { MigrationApi } from './api/migration-api.ts';
export { type ConnectOptions, connect, LibvirtConnection, type OpenOptions } from './connection.ts';
export { DEFAULT_DIAL_TIMEOUT_MS, type DialOptions, dial } from './dial/dial.ts';
export type { TlsOptions } from './dial/dial-tls.ts';
export {
  DEFAULT_TCP_PORT,
  DEFAULT_TLS_PORT,
  type ParsedUri,
  parseLibvirtUri,
  SYSTEM_SOCKET,
  type TcpUri,
  type TlsUri,
  type Transport,
  type UnixUri,
} from './dial/libvirt-uri.ts';
export { type Domain, fromRemoteDomain, toRemoteDomain, uuidFromBytes, uuidToBytes } from './domain.ts';
export {
  type ClientErrorCode,
  hasLibvirtCode,
  isAborted,
  isAuthFailed,
  isAuthUnsupported,
  isClosed,
  isDialError,
  isDomainExists,
  isEventOverflow,
  isInterrupted,
  isInvalidArg,
  isInvalidArgument,
  isInvalidUri,
  isKeepaliveTimeout,
  isLibvirtError,
  isMigrateUnsafe,
  isNoDomain,
  isNoSupport,
  isOperationAborted,
  isOperationFailed,
  isOperationInvalid,
  isOperationTimeout,
  isProtocolError,
  isTimeout,
  LibvirtClientError,
  LibvirtError,
} from './errors.ts';
export type {
  DomainEvent,
  DomainEventKind,
  DomainEventOptions,
  DomainEventSource,
  DomainEventStream,
} from './events/domain-events.ts';
export type { OverflowPolicy } from './events/event-queue.ts';
export { ERROR_DOMAIN_NAMES, ERROR_LEVEL_NAMES, ERROR_NUMBER_NAMES } from './protocol/error-codes.gen.ts';
export * from './protocol/libvirt-constants.gen.ts';
export { RemoteProcedures } from './protocol/remote-procedures.gen.ts';
export { DEFAULT_KEEPALIVE, type KeepaliveOptions } from './rpc/keepalive.ts';
export type { Logger } from './rpc/logger.ts';
export {
  encodePacket,
  MAX_PACKET,
  MIN_PACKET,
  type Packet,
  PacketDecoder,
  type PacketHeader,
} from './rpc/packet.ts';
export type { CallOptions, Decoder, Encoder, RemoteCaller } from './rpc/remote-caller.ts';
export {
  DEFAULT_CALL_TIMEOUT_MS,
  type KeepaliveStats,
  RpcClient,
  type RpcClientOptions,
} from './rpc/rpc-client.ts';
export {
  fromRemoteTypedParam,
  type TypedParam,
  type TypedParamRecord,
  type TypedParamValue,
  toRemoteTypedParam,
  typedParamsToRecord,
} from './typed-params.ts';
export { isXdrError, XdrError, XdrReader, XdrWriter } from './xdr/index.ts';
