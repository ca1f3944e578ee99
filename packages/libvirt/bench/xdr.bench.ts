// Micro-benchmark behind the codec decision: our generated straight-line codec vs @stellar/js-xdr
// (v5 schema builders) on a typical large reply, REMOTE_PROC_CONNECT_GET_ALL_DOMAIN_STATS for 20
// running guests with the field mix the QEMU driver returns. Run: pnpm --filter @cockpit/libvirt bench:xdr
import * as sx from '@stellar/js-xdr';
import {
  decRemoteConnectGetAllDomainStatsRet,
  encRemoteConnectGetAllDomainStatsRet,
  type RemoteConnectGetAllDomainStatsRet,
  type RemoteTypedParam,
} from '../src/protocol/remote-types.gen.ts';
import { XdrReader, XdrWriter } from '../src/xdr/index.ts';

function statsFor(i: number): RemoteTypedParam[] {
  const p: RemoteTypedParam[] = [];
  const int = (field: string, v: number) => p.push({ field, value: { type: 1, i: v } });
  const uint = (field: string, v: number) => p.push({ field, value: { type: 2, ui: v } });
  const ull = (field: string, v: bigint) => p.push({ field, value: { type: 4, ul: v } });
  const str = (field: string, v: string) => p.push({ field, value: { type: 7, s: v } });
  int('state.state', 1);
  int('state.reason', 1);
  ull('cpu.time', 123456789012n + BigInt(i));
  ull('cpu.user', 2345678901n);
  ull('cpu.system', 3456789012n);
  ull('balloon.current', 1048576n);
  ull('balloon.maximum', 1048576n);
  ull('balloon.rss', 734003n);
  uint('vcpu.current', 2);
  uint('vcpu.maximum', 2);
  for (let v = 0; v < 2; v++) {
    int(`vcpu.${v}.state`, 1);
    ull(`vcpu.${v}.time`, 987654321n);
    ull(`vcpu.${v}.wait`, 0n);
  }
  uint('net.count', 1);
  str('net.0.name', `vnet${i}`);
  for (const k of [
    'rx.bytes',
    'rx.pkts',
    'rx.errs',
    'rx.drop',
    'tx.bytes',
    'tx.pkts',
    'tx.errs',
    'tx.drop',
  ]) {
    ull(`net.0.${k}`, 1234567n);
  }
  uint('block.count', 1);
  str('block.0.name', 'vda');
  str('block.0.path', `/var/lib/libvirt/images/guest-${i}.qcow2`);
  for (const k of [
    'rd.reqs',
    'rd.bytes',
    'rd.times',
    'wr.reqs',
    'wr.bytes',
    'wr.times',
    'fl.reqs',
    'fl.times',
  ]) {
    ull(`block.0.${k}`, 7654321n);
  }
  ull('block.0.allocation', 10737418240n);
  ull('block.0.capacity', 21474836480n);
  ull('block.0.physical', 10737418240n);
  return p;
}

const reply: RemoteConnectGetAllDomainStatsRet = {
  retStats: Array.from({ length: 20 }, (_, i) => ({
    dom: { name: `guest-${i}`, uuid: Buffer.alloc(16, i), id: i + 1 },
    params: statsFor(i),
  })),
};

// The same wire types, declared with @stellar/js-xdr's builders.
const nonnullString = sx.string(4194304);
const nonnullDomain = sx.struct('remote_nonnull_domain', {
  name: nonnullString,
  uuid: sx.opaque(16),
  id: sx.int32(),
});
const typedParamValue = sx.union('remote_typed_param_value', {
  switchOn: sx.int32(),
  cases: [
    sx.case('i', 1, sx.field('i', sx.int32())),
    sx.case('ui', 2, sx.field('ui', sx.uint32())),
    sx.case('l', 3, sx.field('l', sx.int64())),
    sx.case('ul', 4, sx.field('ul', sx.uint64())),
    sx.case('d', 5, sx.field('d', sx.double())),
    sx.case('b', 6, sx.field('b', sx.int32())),
    sx.case('s', 7, sx.field('s', nonnullString)),
  ],
});
const typedParam = sx.struct('remote_typed_param', { field: nonnullString, value: typedParamValue });
const statsRecord = sx.struct('remote_domain_stats_record', {
  dom: nonnullDomain,
  params: sx.array(typedParam, 2048),
});
const statsRet = sx.struct('remote_connect_get_all_domain_stats_ret', {
  retStats: sx.array(statsRecord, 16384),
});

function oursEncode(): Buffer {
  const w = new XdrWriter(64 * 1024);
  encRemoteConnectGetAllDomainStatsRet(w, reply);
  return w.finish();
}

const bytes = Buffer.from(oursEncode());

/** ops/s of `f` over about `ms` milliseconds. */
function rate(f: () => unknown, ms: number): number {
  let n = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(ms) * 1_000_000n;
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let i = 0; i < 10; i++) f();
    n += 10;
    elapsed = process.hrtime.bigint() - start;
  }
  return (n * 1e9) / Number(elapsed);
}

/**
 * The machine is shared, so the contenders run in alternating short rounds and each keeps its best
 * round: background load then hits both alike instead of whichever happened to run during it.
 */
function compare(label: string, ours: () => unknown, stellar: () => unknown, rounds = 8, ms = 250): number {
  for (let i = 0; i < 100; i++) {
    ours();
    stellar();
  }
  let bestOurs = 0;
  let bestStellar = 0;
  for (let r = 0; r < rounds; r++) {
    bestOurs = Math.max(bestOurs, rate(ours, ms));
    bestStellar = Math.max(bestStellar, rate(stellar, ms));
  }
  console.log(`${label} ours (generated)        ${bestOurs.toFixed(0).padStart(7)} ops/s`);
  console.log(`${label} @stellar/js-xdr 5.0.0   ${bestStellar.toFixed(0).padStart(7)} ops/s`);
  return bestOurs / bestStellar;
}

// Both codecs must agree on the bytes before their speed means anything.
const theirs = statsRet.decode(bytes) as { retStats: unknown[] };
const reencoded = Buffer.from(statsRet.encode(theirs as never));
if (!reencoded.equals(bytes)) throw new Error('@stellar/js-xdr and our codec disagree on the wire bytes');
if (theirs.retStats.length !== 20) throw new Error('unexpected decode result');

const params = reply.retStats.reduce((n, r) => n + r.params.length, 0);
console.log(`reply: connect get all domain stats, 20 domains, ${params} typed params, ${bytes.length} bytes`);
const decodeRatio = compare(
  'decode',
  () => decRemoteConnectGetAllDomainStatsRet(new XdrReader(bytes)),
  () => statsRet.decode(bytes),
);
const encodeRatio = compare('encode', oursEncode, () => statsRet.encode(theirs as never));
console.log(`ours / stellar: decode ${decodeRatio.toFixed(2)}x, encode ${encodeRatio.toFixed(2)}x`);
