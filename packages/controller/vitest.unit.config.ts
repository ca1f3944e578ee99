import { defineConfig } from 'vitest/config';

// `pnpm test:unit`: the controller's tests that need no database, no process and no browser (pure
// logic: configuration, ids, validation wording, TLS material, message framing). Seconds, not minutes.
// A new test of pure logic belongs in this list.
// biome-ignore lint/style/noDefaultExport: vitest reads the config from the default export.
export default defineConfig({
  test: {
    include: [
      'src/agents/message-reader.test.ts',
      'src/auth/access-tokens.test.ts',
      'src/auth/passwords.test.ts',
      'src/auth/signing-keys.test.ts',
      'src/config/config.test.ts',
      'src/config/listen-check.test.ts',
      'src/http/validation.test.ts',
      'src/http/zod-messages.test.ts',
      'src/ids.test.ts',
      'src/log.test.ts',
      'src/pki/grpc-tls.test.ts',
    ],
  },
});
