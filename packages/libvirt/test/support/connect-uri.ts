// Run as a child process (e.g. on a harness host through exec.sh): opens argv[2] with our client and
// prints what the daemon says as one JSON line, so a test can check URIs whose socket only exists
// inside another mount namespace (`qemu:///system`).
import { connect } from '../../src/index.ts';

const uri = process.argv[2];
if (uri === undefined) throw new Error('usage: connect-uri.ts URI');
const conn = await connect(uri, { callTimeoutMs: 10_000 });
const domains = await conn.domains.listAll();
process.stdout.write(
  `${JSON.stringify({
    name: conn.name,
    hostname: await conn.host.getHostname(),
    domains: domains.map((d) => d.name).sort(),
  })}\n`,
);
await conn.close();
