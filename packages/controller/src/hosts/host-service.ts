import type { HostInfo } from '@cockpit/proto';
import type { Logger } from 'pino';
import { insertAuditEntry } from '../audit/audit-queries.ts';
import type { SignedInCaller } from '../auth/caller.ts';
import { recordChanges } from '../changes/change-queries.ts';
import type { Clock } from '../clock.ts';
import type { Sql, Tx } from '../database/sql.ts';
import { uuidv7 } from '../ids.ts';
import {
  hashSecret,
  insertJoinToken,
  newJoinToken,
  recordJoinedHost,
  redeemJoinToken,
} from '../join-tokens/join-token-queries.ts';
import type { JoinTokenView } from '../join-tokens/join-token-schema.ts';
import type { Notifier } from '../notifier/notifier.ts';
import { failOperationsOfHost } from '../operations/operation-queries.ts';
import { ServiceError } from '../service-error.ts';
import { removeVms } from '../vms/vm-sync-queries.ts';
import { issueCredential, parseCredential, sameHash } from './host-credentials.ts';
import {
  deleteHost,
  findCredentialHash,
  findHost,
  findRevokedCredentialHash,
  insertHost,
  listHosts,
  lockHostForDelete,
} from './host-queries.ts';
import type { HostView } from './host-schema.ts';

/** Where agents reach this controller, for join-token answers. Set once the gRPC listener is bound. */
export interface AgentEndpoint {
  /** `host:port` agents dial; undefined until the gRPC server listens. */
  address?: string;
  /** The CA fingerprint agents pin (openssl's form); null on a plaintext listener. */
  caFingerprint: string | null;
}

export interface JoinRequestInput {
  joinToken: string;
  hostname: string;
  agentVersion: string;
  host: HostInfo | undefined;
}

/** A host whose credential checked out. */
export interface AuthenticatedHost {
  hostId: string;
  credentialHash: string;
}

/**
 * The hypervisor hosts: reads for REST, join tokens and joining (an agent redeems a single-use token
 * for its credential), credential checks for the agents' streams, and deletion, which revokes the
 * credential and cuts a live stream on whatever replica holds it.
 */
export interface HostService {
  list(): Promise<HostView[]>;
  /** Throws `not_found`. */
  get(id: string): Promise<HostView>;
  /** Throws `not_found`. */
  delete(caller: SignedInCaller, id: string): Promise<void>;
  createJoinToken(caller: SignedInCaller, ttlSeconds: number): Promise<JoinTokenView>;
  /**
   * A join token the controller makes for agents it starts itself (the demo agents): no user creates
   * it, so the audit log names the controller and `purpose` (e.g. `COCKPIT_DEMO_AGENTS`).
   */
  createOwnJoinToken(purpose: string, ttlSeconds: number): Promise<JoinTokenView>;
  /**
   * Redeems a join token for a new host and its credential (returned once, stored only as a hash).
   * Throws `invalid_argument` (before the token is looked at), `invalid_join_token` (unknown, expired or
   * used), or `conflict` (the hostname is taken; the token is spent all the same).
   */
  join(request: JoinRequestInput): Promise<{ hostId: string; credential: string }>;
  /** Throws `invalid_credential` (unknown or malformed) or `revoked` (its host was deleted). */
  authenticate(credential: string): Promise<AuthenticatedHost>;
}

export function createHostService(deps: {
  sql: Sql;
  clock: Clock;
  notifier: Notifier;
  log: Logger;
  endpoint: AgentEndpoint;
  /** After a commit that logged host or VM changes: this replica's VM cache catches up before its next read. */
  changesCommitted?: () => void;
}): HostService {
  const { sql, clock, notifier, log, endpoint, changesCommitted = () => undefined } = deps;

  const agentCommand = (token: string): string => {
    const address = endpoint.address ?? '<controller-address:port>';
    const trust =
      endpoint.caFingerprint === null ? '--insecure-plaintext' : `--ca-sha256 ${endpoint.caFingerprint}`;
    return `cockpit-agent --controller ${address} ${trust} --join-token ${token}`;
  };

  const issueJoinToken = async (
    db: Sql | Tx,
    input: { id: string; createdBy: string | null; now: Date; ttlSeconds: number },
  ): Promise<JoinTokenView> => {
    const token = newJoinToken();
    const expiresAt = new Date(input.now.getTime() + input.ttlSeconds * 1000);
    await insertJoinToken(db, { ...input, tokenHash: hashSecret(token), expiresAt });
    return {
      id: input.id,
      token,
      expires_at: expiresAt.toISOString(),
      controller_address: endpoint.address ?? '',
      ca_sha256: endpoint.caFingerprint,
      agent_command: agentCommand(token),
    };
  };

  return {
    list: () => listHosts(sql),

    async get(id) {
      const host = await findHost(sql, id);
      if (host === null) throw new ServiceError('not_found', 'no such host');
      return host;
    },

    async delete(caller, id) {
      caller.audit.target = `host:${id}`;
      const now = clock.now();
      const deleted = await sql.begin(async (tx) => {
        // The host's row first, then its VMs', in the order sync ingest locks them: the other way round, a
        // delete and an agent's report about one of its VMs deadlocked, and the delete answered 500.
        if (!(await lockHostForDelete(tx, id))) return false;
        // The host's VMs go (another host's record of one takes its place); its unfinished operations fail.
        await removeVms(tx, { hosts: [{ hostId: id, keep: [] }] }, now);
        await failOperationsOfHost(
          tx,
          id,
          { code: 'host_deleted', message: 'the host was deleted while the operation ran' },
          now,
        );
        if (!(await deleteHost(tx, id, now))) return false;
        await recordChanges(tx, now, [{ kind: 'host', entityId: id, op: 'delete', data: null }]);
        return true;
      });
      if (!deleted) throw new ServiceError('not_found', 'no such host');
      changesCommitted();
      log.info({ hostId: id }, 'host deleted: credential revoked');
      // Whichever replica holds the host's stream says goodbye and ends it. The host is gone whether or
      // not this signal goes out (the last-seen flush ends its stream), so a failure is only logged.
      await notifier
        .publish('streams', `${id} -1`)
        .catch((err: unknown) =>
          log.warn({ err, hostId: id }, 'notify failed; the last-seen flush ends its stream'),
        );
    },

    async createJoinToken(caller, ttlSeconds) {
      const now = clock.now();
      const id = uuidv7(now);
      caller.audit.target = `join_token:${id}`;
      return issueJoinToken(sql, { id, createdBy: caller.principal.userId, now, ttlSeconds });
    },

    async createOwnJoinToken(purpose, ttlSeconds) {
      const now = clock.now();
      const id = uuidv7(now);
      return sql.begin(async (tx) => {
        const view = await issueJoinToken(tx, { id, createdBy: null, now, ttlSeconds });
        await insertAuditEntry(tx, {
          at: now,
          requestId: null,
          actorId: null,
          actorUsername: `cockpit (${purpose})`,
          action: 'create join token',
          method: 'START',
          path: '-',
          target: `join_token:${id}`,
          result: 'success',
          status: 0,
          clientAddress: null,
        });
        return view;
      });
    },

    async join(request) {
      const hostname = request.hostname.trim();
      if (hostname.length < 1 || hostname.length > 253 || hostname.includes('\u0000')) {
        throw new ServiceError('invalid_argument', 'hostname must be 1 to 253 characters', {
          inputs: [{ input: 'hostname', message: 'must be 1 to 253 characters' }],
        });
      }
      const now = clock.now();
      const hostId = uuidv7(now);
      const issued = issueCredential(hostId);
      const outcome = await sql.begin(async (tx) => {
        const tokenId = await redeemJoinToken(tx, hashSecret(request.joinToken), now);
        if (tokenId === null) return 'invalid_token' as const;
        const host = await insertHost(tx, {
          id: hostId,
          hostname,
          credentialHash: issued.hash,
          facts: { agentVersion: request.agentVersion, info: request.host },
          now,
        });
        // The token stays spent either way: it was valid, and it is single-use.
        if (host === null) return 'hostname_taken' as const;
        await recordJoinedHost(tx, tokenId, hostId);
        await recordChanges(tx, now, [{ kind: 'host', entityId: hostId, op: 'upsert', data: host }]);
        return 'joined' as const;
      });
      if (outcome === 'invalid_token') {
        throw new ServiceError('invalid_join_token', 'the join token is unknown, expired or already used');
      }
      if (outcome === 'hostname_taken') {
        throw new ServiceError(
          'conflict',
          `a host named ${hostname} is already registered; delete it first (DELETE /api/v1/hosts/:id) or use another hostname`,
        );
      }
      log.info({ hostId, hostname }, 'host joined');
      return { hostId, credential: issued.credential };
    },

    async authenticate(credential) {
      const parsed = parseCredential(credential);
      if (parsed === undefined) throw new ServiceError('invalid_credential', 'malformed host credential');
      const stored = await findCredentialHash(sql, parsed.hostId);
      if (stored !== null && sameHash(stored, parsed.hash)) {
        return { hostId: parsed.hostId, credentialHash: stored };
      }
      if (stored === null) {
        const revoked = await findRevokedCredentialHash(sql, parsed.hostId);
        if (revoked !== null && sameHash(revoked, parsed.hash)) {
          throw new ServiceError(
            'revoked',
            'this host was deleted: its credential is revoked; join it again',
          );
        }
      }
      throw new ServiceError('invalid_credential', 'unknown host credential');
    },
  };
}
