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
 * another terminal (log in, list hosts, list VMs, a power action waited for, a live migration of
 * another running VM to the other host, followed once a second until it ends). The password itself is
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
  const node = (body: string) => `node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>${body})'`;
  const json = (expression: string) => node(`console.log(${expression})`);
  // One line per poll ("migrating: 1843 MiB sent, 2253 MiB to go"); exit 1 once the migration ended.
  const followMigration = node(
    '{const m=JSON.parse(s),p=m.progress,mib=b=>Math.round(b/1048576);' +
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the placeholders are the printed command's JavaScript
      'console.log(m.status+(p?`: ${mib(p.memory_processed)} MiB sent, ${mib(p.memory_remaining)} MiB to go`:""));' +
      'process.exitCode=["completed","failed","cancelled"].includes(m.status)?1:0}',
  );
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
    '   # live migration of the smallest other running VM to the other host, throttled to',
    '   # 256 MiB/s so that its progress shows, followed once a second until it ends:',
    `   read SRC DST <<< "$(curl -s $API/api/v1/hosts -H "Authorization: Bearer $TOKEN" \\`,
    `     | ${json('JSON.parse(s).hosts.map(h=>h.id).join(" ")')})"`,
    '   MVM=$(curl -s "$API/api/v1/vms?host_id=$SRC&state=running" -H "Authorization: Bearer $TOKEN" \\',
    `     | ${json('JSON.parse(s).vms.filter(v=>v.id!==process.argv[1]).sort((a,b)=>a.max_memory_mib-b.max_memory_mib)[0].id')} "$VM")`,
    '   MIGRATION=$(curl -s -X POST $API/api/v1/vms/$MVM/migrate -H "Authorization: Bearer $TOKEN" \\',
    '     -H "Content-Type: application/json" -d "{\\"destination_host_id\\":\\"$DST\\",\\"bandwidth_mibps\\":256}" \\',
    `     | ${json('JSON.parse(s).migration_id')})`,
    '   while sleep 1; do curl -s $API/api/v1/migrations/$MIGRATION -H "Authorization: Bearer $TOKEN" \\',
    `     | ${followMigration} || break; done`,
    '',
    ' The agents keep their credentials in the data folder (demo-agents/): later',
    ' starts bring back the same hosts. COCKPIT_DEMO_AGENTS=0 starts none.',
    '================================================================',
    '',
    '',
  ].join('\n');
}
