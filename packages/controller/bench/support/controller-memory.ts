/** Where the controller's memory is right now, from its /metrics (MiB): what its RSS is made of. */
export async function controllerMemory(api: string): Promise<string> {
  const text = await (await fetch(`${api}/metrics`)).text();
  const mib = (name: string) => {
    const value = Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    return Number.isFinite(value) ? Math.round(value / 2 ** 20) : '?';
  };
  return (
    `RSS ${mib('process_resident_memory_bytes')}, JS heap ${mib('nodejs_heap_size_used_bytes')} used of ` +
    `${mib('nodejs_heap_size_total_bytes')}, external ${mib('nodejs_external_memory_bytes')} ` +
    `(buffers ${mib('nodejs_array_buffers_bytes')})`
  );
}

/**
 * The controller's event loop delay since the previous scrape of its /metrics (p99 and max, ms): call
 * once to start a window, again to read it.
 */
export async function controllerLoopDelay(api: string): Promise<{ p99: number; max: number }> {
  const text = await (await fetch(`${api}/metrics`)).text();
  const ms = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]) * 1000;
  return { p99: ms('nodejs_eventloop_delay_p99_seconds'), max: ms('nodejs_eventloop_delay_max_seconds') };
}
