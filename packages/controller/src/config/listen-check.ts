import { createServer } from 'node:net';
import { type Config, ConfigError } from './config.ts';

interface Listener {
  host: string;
  port: number;
  hostVariable: string;
  portVariable: string;
}

/**
 * Checks, before anything is created, that the controller can listen where it is told to: a busy
 * port or a host name that is not an address of this machine must stop the first start before the
 * data folder and the first admin (whose generated password is shown once) exist. Each problem names
 * the variable to change, all reported together. Port 0 (any free port) needs no check.
 */
export async function checkListenAddresses(config: Pick<Config, 'http' | 'grpc'>): Promise<void> {
  const listeners: Listener[] = [
    { ...config.http, hostVariable: 'COCKPIT_HTTP_HOST', portVariable: 'COCKPIT_HTTP_PORT' },
    { ...config.grpc, hostVariable: 'COCKPIT_GRPC_HOST', portVariable: 'COCKPIT_GRPC_PORT' },
  ];
  const problems: Array<{ variable: string; message: string }> = [];
  for (const l of listeners) {
    const problem = await tryListen(l);
    if (problem !== undefined) problems.push(problem);
  }
  if (problems.length > 0) throw new ConfigError(problems);
}

function tryListen(l: Listener): Promise<{ variable: string; message: string } | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(describe(err, l)));
    server.listen({ host: l.host, port: l.port, exclusive: true }, () => {
      server.close(() => resolve(undefined));
    });
  });
}

function describe(err: NodeJS.ErrnoException, l: Listener): { variable: string; message: string } {
  const where = `${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return {
        variable: l.portVariable,
        message: `${where} is already in use by another program; set ${l.portVariable} to a free port`,
      };
    case 'EACCES':
      return {
        variable: l.portVariable,
        message: `not allowed to listen on ${where} (ports below 1024 need root or CAP_NET_BIND_SERVICE); use a port of 1024 or more`,
      };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return { variable: l.hostVariable, message: `"${l.host}" does not resolve to an address` };
    case 'EADDRNOTAVAIL':
      return {
        variable: l.hostVariable,
        message: `${l.host} is not an address of this machine; use one of its addresses, 127.0.0.1 or 0.0.0.0`,
      };
    default:
      return { variable: l.hostVariable, message: `cannot listen on ${where}: ${err.code ?? err.message}` };
  }
}
