#!/usr/bin/env node
// Runs the TypeScript CLI directly through tsx, so `npx offpolicy` works right
// after `npm install` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
await main(process.argv);
