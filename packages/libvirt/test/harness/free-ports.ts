import { createServer } from 'node:net';

/** Whether nothing listens on 127.0.0.1:`port` right now. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

/**
 * A block of `count` consecutive ports that are free on 127.0.0.1 now, picked at random in
 * 20000–59999 (below Linux's ephemeral range, so outgoing connections do not take them meanwhile).
 */
export async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20000 + Math.floor(Math.random() * (40000 - count));
    let free = true;
    for (let port = base; port < base + count && free; port++) {
      free = await isPortFree(port);
    }
    if (free) return base;
  }
  throw new Error(`no block of ${count} free ports found on 127.0.0.1`);
}
