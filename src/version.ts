import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
/** The toolkit's version, from package.json (recorded in every report for reproduction). */
export const VERSION: string = (require('../package.json') as { version: string }).version;
