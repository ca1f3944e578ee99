import {
  AgentServiceService,
  type ConnectRequest,
  type ConnectResponse,
  type Hello,
  type JoinRequest,
  type JoinResponse,
  MessageStream,
  type Welcome,
} from '@cockpit/proto';
import {
  type Metadata,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type sendUnaryData,
  type status,
} from '@grpc/grpc-js';
import { ControllerSession } from './controller-session.ts';

/** What Join answers: a response, or a gRPC error status. */
export type JoinAnswer = JoinResponse | { code: status; details: string };

export interface ScriptedControllerOptions {
  /** TLS: PEM key and certificate chain (leaf first, then the CA). Default: plaintext. */
  tls?: { key: string; certChain: string };
  /** Port to bind (a restart binds the same one). Default: any free port. */
  port?: number;
}

/**
 * A controller the test drives, on a real grpc-js server on 127.0.0.1: it records Join calls and answers
 * them as told, and hands each Connect stream to the test as a ControllerSession (Hello received, Welcome
 * and everything after sent by the test). Built on AgentServiceService from @cockpit/proto, so the agent
 * talks to it exactly as to the real controller.
 */
export class ScriptedController {
  readonly sessions: ControllerSession[] = [];
  readonly joins: Array<{ request: JoinRequest; metadata: Metadata }> = [];
  /** How Join answers; default: host id h-1 with credential cred-1. */
  joinAnswer: (request: JoinRequest) => JoinAnswer = () => ({ hostId: 'h-1', credential: 'cred-1' });
  /** Called for each new session (e.g. to welcome it at once). */
  onSession: ((session: ControllerSession) => void) | undefined;
  private waiters: Array<(session: ControllerSession) => void> = [];
  private server: Server | undefined;
  private constructor(
    readonly port: number,
    private readonly options: ScriptedControllerOptions,
  ) {}

  static async start(options: ScriptedControllerOptions = {}): Promise<ScriptedController> {
    const controller = new ScriptedController(options.port ?? 0, options);
    await controller.listen();
    return controller;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The next session to arrive (or the first not yet taken). */
  nextSession(): Promise<ControllerSession> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The server dies: every stream is cut, nothing listens on the port. */
  async kill(): Promise<void> {
    this.server?.forceShutdown();
    this.server = undefined;
  }

  /** Listens again on the same port (after kill). */
  async restart(): Promise<void> {
    await this.listen();
  }

  async stop(): Promise<void> {
    await this.kill();
  }

  private async listen(): Promise<void> {
    const server = new Server();
    server.addService(AgentServiceService, {
      join: (call: ServerUnaryCall<JoinRequest, JoinResponse>, done: sendUnaryData<JoinResponse>) => {
        this.joins.push({ request: call.request, metadata: call.metadata });
        const answer = this.joinAnswer(call.request);
        if ('code' in answer) done({ code: answer.code, details: answer.details });
        else done(null, answer);
      },
      connect: (call: ServerDuplexStream<ConnectRequest, ConnectResponse>) => {
        const session = new ControllerSession(call, new MessageStream<ConnectResponse, ConnectRequest>(call));
        this.sessions.push(session);
        this.onSession?.(session);
        const waiter = this.waiters.shift();
        waiter?.(session);
      },
    });
    const credentials =
      this.options.tls === undefined
        ? ServerCredentials.createInsecure()
        : ServerCredentials.createSsl(null, [
            {
              private_key: Buffer.from(this.options.tls.key),
              cert_chain: Buffer.from(this.options.tls.certChain),
            },
          ]);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${this.port}`, credentials, (err, p) => (err ? reject(err) : resolve(p))),
    );
    (this as { port: number }).port = port;
    this.server = server;
  }
}

export type { Hello, Welcome };
