import { ERROR_DOMAIN_NAMES, ERROR_LEVEL_NAMES, ERROR_NUMBER_NAMES } from './protocol/error-codes.gen.ts';
import {
  VIR_ERR_AUTH_FAILED,
  VIR_ERR_DOM_EXIST,
  VIR_ERR_INVALID_ARG,
  VIR_ERR_MIGRATE_UNSAFE,
  VIR_ERR_NO_DOMAIN,
  VIR_ERR_NO_SUPPORT,
  VIR_ERR_OPERATION_ABORTED,
  VIR_ERR_OPERATION_FAILED,
  VIR_ERR_OPERATION_INVALID,
  VIR_ERR_OPERATION_TIMEOUT,
  VIR_ERR_OPERATION_UNSUPPORTED,
} from './protocol/libvirt-constants.gen.ts';
import type { RemoteError } from './protocol/remote-types.gen.ts';

/** An error reported by libvirt itself (remote_error): code, domain and level are virterror.h numbers. */
export class LibvirtError extends Error {
  override readonly name = 'LibvirtError';
  /** virErrorNumber, e.g. 42 (VIR_ERR_NO_DOMAIN). */
  readonly code: number;
  /** virErrorDomain: which part of libvirt raised it, e.g. 10 (VIR_FROM_QEMU). */
  readonly domain: number;
  /** virErrorLevel: 1 warning, 2 error. */
  readonly level: number;
  readonly str1: string | null;
  readonly str2: string | null;
  readonly str3: string | null;
  readonly int1: number;
  readonly int2: number;

  constructor(
    e: RemoteError,
    /** The remote procedure whose call failed (REMOTE_PROC_*), when known. */
    readonly procedure: number | null = null,
    options?: ErrorOptions,
  ) {
    super(e.message ?? `libvirt error ${e.code}`, options);
    this.code = e.code;
    this.domain = e.domain;
    this.level = e.level;
    this.str1 = e.str1;
    this.str2 = e.str2;
    this.str3 = e.str3;
    this.int1 = e.int1;
    this.int2 = e.int2;
  }

  /** The virErrorNumber's C name, e.g. `VIR_ERR_NO_DOMAIN`. */
  get codeName(): string {
    return ERROR_NUMBER_NAMES[this.code] ?? `VIR_ERR_${this.code}`;
  }

  /** The virErrorDomain's C name, e.g. `VIR_FROM_QEMU`. */
  get domainName(): string {
    return ERROR_DOMAIN_NAMES[this.domain] ?? `VIR_FROM_${this.domain}`;
  }

  get levelName(): string {
    return ERROR_LEVEL_NAMES[this.level] ?? `VIR_ERR_LEVEL_${this.level}`;
  }
}

export function isLibvirtError(err: unknown): err is LibvirtError {
  return err instanceof LibvirtError;
}

/** True when `err` is a LibvirtError with the given virErrorNumber. */
export function hasLibvirtCode(err: unknown, code: number): err is LibvirtError {
  return err instanceof LibvirtError && err.code === code;
}

export const isNoDomain = (err: unknown) => hasLibvirtCode(err, VIR_ERR_NO_DOMAIN);
export const isDomainExists = (err: unknown) => hasLibvirtCode(err, VIR_ERR_DOM_EXIST);
export const isOperationInvalid = (err: unknown) => hasLibvirtCode(err, VIR_ERR_OPERATION_INVALID);
export const isOperationFailed = (err: unknown) => hasLibvirtCode(err, VIR_ERR_OPERATION_FAILED);
export const isOperationAborted = (err: unknown) => hasLibvirtCode(err, VIR_ERR_OPERATION_ABORTED);
export const isOperationTimeout = (err: unknown) => hasLibvirtCode(err, VIR_ERR_OPERATION_TIMEOUT);
export const isNoSupport = (err: unknown) =>
  hasLibvirtCode(err, VIR_ERR_NO_SUPPORT) || hasLibvirtCode(err, VIR_ERR_OPERATION_UNSUPPORTED);
export const isInvalidArg = (err: unknown) => hasLibvirtCode(err, VIR_ERR_INVALID_ARG);
export const isAuthFailed = (err: unknown) => hasLibvirtCode(err, VIR_ERR_AUTH_FAILED);
export const isMigrateUnsafe = (err: unknown) => hasLibvirtCode(err, VIR_ERR_MIGRATE_UNSAFE);

/** Failures of the client and its connection, as opposed to errors libvirt reports. */
export type ClientErrorCode =
  /** The connection closed (or died) while the call was in flight. */
  | 'INTERRUPTED'
  /** The call was made on a connection that is already closed. */
  | 'CLOSED'
  /** The call's deadline passed before its reply arrived. */
  | 'TIMEOUT'
  /** The call's AbortSignal fired. */
  | 'ABORTED'
  /** The peer sent bytes that are not libvirt's protocol: bad length, truncated packet, bad XDR. */
  | 'PROTOCOL'
  /** The peer stopped answering keepalive pings. */
  | 'KEEPALIVE_TIMEOUT'
  /** Opening the transport failed (socket missing, connection refused, TLS handshake). */
  | 'DIAL'
  | 'INVALID_URI'
  /**
   * The caller passed a value the protocol cannot carry (not a UUID, not an integer, out of range,
   * too large for a packet): refused before anything was sent. libvirt's own VIR_ERR_INVALID_ARG,
   * which the daemon reports, is `isInvalidArg`.
   */
  | 'INVALID_ARGUMENT'
  /** The daemon requires an authentication method this client does not implement (e.g. SASL). */
  | 'AUTH_UNSUPPORTED'
  /** An event stream's consumer fell too far behind (overflow policy `fail`). */
  | 'EVENT_OVERFLOW';

export class LibvirtClientError extends Error {
  override readonly name = 'LibvirtClientError';
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

function hasClientCode(err: unknown, code: ClientErrorCode): err is LibvirtClientError {
  return err instanceof LibvirtClientError && err.code === code;
}

export const isInterrupted = (err: unknown) => hasClientCode(err, 'INTERRUPTED');
export const isClosed = (err: unknown) => hasClientCode(err, 'CLOSED');
export const isTimeout = (err: unknown) => hasClientCode(err, 'TIMEOUT');
export const isAborted = (err: unknown) => hasClientCode(err, 'ABORTED');
export const isProtocolError = (err: unknown) => hasClientCode(err, 'PROTOCOL');
export const isKeepaliveTimeout = (err: unknown) => hasClientCode(err, 'KEEPALIVE_TIMEOUT');
export const isDialError = (err: unknown) => hasClientCode(err, 'DIAL');
export const isInvalidUri = (err: unknown) => hasClientCode(err, 'INVALID_URI');
export const isInvalidArgument = (err: unknown) => hasClientCode(err, 'INVALID_ARGUMENT');
export const isAuthUnsupported = (err: unknown) => hasClientCode(err, 'AUTH_UNSUPPORTED');
export const isEventOverflow = (err: unknown) => hasClientCode(err, 'EVENT_OVERFLOW');
