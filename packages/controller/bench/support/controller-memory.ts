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
