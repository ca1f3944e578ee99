/** Where the admin's password is to be found, for the demo's first curl line. */
export type AdminPasswordSource =
  /** The generated one, still in `<data dir>/initial-admin-password`. */
  | { kind: 'file'; file: string }
  /** COCKPIT_ADMIN_PASSWORD. */
  | { kind: 'configured' }
  /** Changed since: only its owner knows it. */
  | { kind: 'chosen' };

/**
 * What `pnpm start` prints once the demo agents run: who to log in as, and curl lines to paste into
 * another terminal (log in, list hosts, list VMs, a power action waited for). The password itself is
 * printed only on the first start (ensureAdminUser); here the line reads it from where it is kept.
 */
export function demoBanner(input: {
  url: string;
  hostnames: string[];
  password: AdminPasswordSource;
}): string {
  const passwordLine =
    input.password.kind === 'file'
      ? `PASSWORD=$(cat '${input.password.file}')`
      : input.password.kind === 'configured'
        ? "PASSWORD='the COCKPIT_ADMIN_PASSWORD you set'"
        : "PASSWORD='the password you gave admin'";
  const json = (expression: string) =>
    `node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(${expression}))'`;
  return [
    '',
    '================================================================',
    ` Demo: ${input.hostnames.length} simulated hypervisors (${input.hostnames.join(', ')})`,
    ' report to this controller; they show up within seconds. Log in as "admin"',
    ' and try, in another terminal:',
    '',
    `   API=${input.url}`,
    `   ${passwordLine}`,
    '   TOKEN=$(curl -s -X POST $API/api/v1/auth/login -H "Content-Type: application/json" \\',
    '     -d "{\\"username\\":\\"admin\\",\\"password\\":\\"$PASSWORD\\"}" \\',
    `     | ${json('JSON.parse(s).token')})`,
    '   curl -s $API/api/v1/hosts -H "Authorization: Bearer $TOKEN"',
    '   curl -s $API/api/v1/vms -H "Authorization: Bearer $TOKEN"',
    `   VM=$(curl -s "$API/api/v1/vms?state=running&limit=1" -H "Authorization: Bearer $TOKEN" \\`,
    `     | ${json('JSON.parse(s).vms[0].id')})`,
    '   curl -s -X POST "$API/api/v1/vms/$VM/action?wait=10" -H "Authorization: Bearer $TOKEN" \\',
    '     -H "Content-Type: application/json" -d \'{"action":"stop","force":true}\'',
    '',
    ' The agents keep their credentials in the data folder (demo-agents/): later',
    ' starts bring back the same hosts. COCKPIT_DEMO_AGENTS=0 starts none.',
    '================================================================',
    '',
    '',
  ].join('\n');
}
