// Last step of `npm run build`: tsc writes files without the execute bit,
// and `npx concurrent-futures` from the repository root runs the package's
// own bin file directly (an installed package gets the bit from npm).
import { chmodSync } from 'node:fs';

chmodSync(new URL('../dist/lib/cli/main.js', import.meta.url), 0o755);
