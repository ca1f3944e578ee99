export { type ConnectOptions, connect, LibvirtConnection } from './connection.ts';
export { type DialOptions, dial, type TlsOptions } from './dial/dial.ts';
export {
  DEFAULT_TCP_PORT,
  DEFAULT_TLS_PORT,
  type ParsedUri,
  parseLibvirtUri,
  SYSTEM_SOCKET,
  type Transport,
} from './dial/libvirt-uri.ts';
export { type Domain, fromRemoteDomain, toRemoteDomain, uuidFromBytes, uuidToBytes } from './domain.ts';
export { DomainApi, type DomainInfo } from './domain-api.ts';
export type {
  DomainEvent,
  DomainEventKind,
  DomainEventOptions,
  DomainEventStream,
} from './domain-events.ts';
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
export type { OverflowPolicy } from './event-queue.ts';
export { HostApi, type NodeInfo } from './host-api.ts';
export { type DomainJobInfo, type DomainStats, JobApi, type JobStats } from './job-api.ts';
export { type MigrateParams, migrateParamsToTyped } from './migrate-params.ts';
export { ERROR_DOMAIN_NAMES, ERROR_LEVEL_NAMES, ERROR_NUMBER_NAMES } from './protocol/error-codes.gen.ts';
export * from './protocol/libvirt-constants.gen.ts';
export { RemoteProcedures } from './protocol/remote-procedures.gen.ts';
export type { KeepaliveOptions } from './rpc/keepalive.ts';
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
export { type KeepaliveStats, RpcClient, type RpcClientOptions } from './rpc/rpc-client.ts';
export {
  fromRemoteTypedParam,
  type TypedParam,
  type TypedParamRecord,
  type TypedParamValue,
  toRemoteTypedParam,
  typedParamsToRecord,
} from './typed-params.ts';
export { isXdrError, XdrError, XdrReader, XdrWriter } from './xdr/index.ts';
