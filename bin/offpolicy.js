#!/usr/bin/env node
// Runs the compiled CLI (dist/, built by `npm run build`; `npm install` in a checkout runs it through `prepare`).
let cli;
try {
  cli = await import('../dist/cli.js');
} catch (e) {
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('dist/cli.js')) {
    process.stderr.write('offpolicy: the compiled CLI (dist/cli.js) is missing. Run `npm run build` in the package folder (`npm install` runs it).\n');
    process.exit(1);
  }
  throw e;
}
await cli.main(process.argv);
