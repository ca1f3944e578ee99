// @cockpit/libvirt/testing: a scriptable libvirt daemon impostor for tests of code that uses the client.
export { type MockHandler, MockLibvirtServer, type MockServerOptions } from './mock-libvirt-server.ts';
export { type MockCall, MockSession } from './mock-session.ts';
export { type Deadline, rejectionOf, within } from './rejection-of.ts';
