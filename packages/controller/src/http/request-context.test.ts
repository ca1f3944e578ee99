import { describe, expect, it } from 'vitest';
import type { Services } from '../create-services.ts';
import { createLogger } from '../log.ts';
import { requestServices } from './request-context.ts';

/** Real services are many; two plain fields and a real logger that records its lines are enough here. */
function servicesWithLog() {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger('info', { write: (line: string) => lines.push(JSON.parse(line)) });
  let children = 0;
  const child = log.child.bind(log);
  log.child = ((...args: Parameters<typeof log.child>) => {
    children++;
    return child(...args);
  }) as typeof log.child;
  const vms = { name: 'the VM service' };
  const services = { log, vms } as unknown as Services;
  return { services, vms, lines, children: () => children };
}

describe('requestServices', () => {
  it('reaches the services through, and makes the request’s logger only when it is first used', () => {
    const { services, vms, lines, children } = servicesWithLog();
    const forRequest = requestServices(services)('req-1');
    expect(forRequest.vms).toBe(vms);
    expect(children()).toBe(0);

    forRequest.log.info({ vm: 'web-1' }, 'started');
    forRequest.log.info('again');
    expect(children()).toBe(1);
    expect(forRequest.log).toBe(forRequest.log);
    expect(lines.map((l) => [l.requestId, l.msg])).toEqual([
      ['req-1', 'started'],
      ['req-1', 'again'],
    ]);
  });

  it('gives each request its own logger, with its own id', () => {
    const { services, lines } = servicesWithLog();
    const make = requestServices(services);
    const first = make('req-1');
    const second = make('req-2');
    second.log.info('b');
    first.log.info('a');
    services.log.info('c');
    expect(lines.map((l) => [l.requestId, l.msg])).toEqual([
      ['req-2', 'b'],
      ['req-1', 'a'],
      [undefined, 'c'],
    ]);
  });
});
