import { fileURLToPath } from 'node:url';
import type { LibvirtHost } from '../harness/index.ts';

const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
const connectUri = fileURLToPath(new URL('./connect-uri.ts', import.meta.url));

export interface ConnectReport {
  name: string;
  hostname: string;
  domains: string[];
}

/** Runs test/support/connect-uri.ts on `host` (in its namespaces) against `uri`; its JSON report. */
export function connectFromHost(host: LibvirtHost, uri: string): Promise<ConnectReport> {
  return new Promise((resolve, reject) => {
    const child = host.spawn(tsx, [connectUri, uri], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr?.on('data', (b: Buffer) => {
      err += b.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out) as ConnectReport);
      else reject(new Error(`connect-uri ${uri} on ${host.name} exited ${code}: ${err}`));
    });
  });
}
