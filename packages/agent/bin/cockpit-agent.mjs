#!/usr/bin/env node
// The `cockpit-agent` command: TypeScript runs as is through tsx (no build step), as everywhere in Cockpit.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
