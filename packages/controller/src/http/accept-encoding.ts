/**
 * Whether a request's `Accept-Encoding` lets the answer be gzip-encoded (RFC 9110 §12.5.3): `gzip`
 * (or its alias `x-gzip`) with a weight above 0, or else `*` with a weight above 0. An explicit
 * `gzip;q=0` refuses it even beside `*`; no header, `identity` alone or a weight we can't read mean
 * plain, which every client understands.
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined || header === '') return false;
  // Clients send the same header on every request (`gzip, deflate`, `gzip, deflate, br, zstd`): one
  // parse per distinct value.
  if (header === lastHeader) return lastAnswer;
  const answer = parseAcceptsGzip(header);
  lastHeader = header;
  lastAnswer = answer;
  return answer;
}

let lastHeader: string | undefined;
let lastAnswer = false;

function parseAcceptsGzip(header: string): boolean {
  let gzip: number | undefined;
  let any: number | undefined;
  for (const entry of header.split(',')) {
    const [coding = '', ...params] = entry.split(';');
    const name = coding.trim().toLowerCase();
    if (name !== 'gzip' && name !== 'x-gzip' && name !== '*') continue;
    const weight = weightOf(params);
    if (name === '*') any = Math.max(any ?? 0, weight);
    else gzip = Math.max(gzip ?? 0, weight);
  }
  return (gzip ?? any ?? 0) > 0;
}

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ); no `q` means 1.
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

function weightOf(params: string[]): number {
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq === -1 || param.slice(0, eq).trim().toLowerCase() !== 'q') continue;
    const value = param.slice(eq + 1).trim();
    // A weight we can't read is taken as a refusal: the plain answer is never wrong.
    return QVALUE.test(value) ? Number(value) : 0;
  }
  return 1;
}
