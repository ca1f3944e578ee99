// @cockpit/libvirt/protocol: the generated wire layer, for callers of `conn.remote.*` and tests that
// script the mock daemon (types, encoders/decoders, procedure numbers, event decoders).
export * from './keepalive.gen.ts';
export * from './net.gen.ts';
export * from './remote-codecs.gen.ts';
export * from './remote-procedures.gen.ts';
export * from './remote-types.gen.ts';
