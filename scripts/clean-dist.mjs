// First step of `npm run build` (and so of `prepack`): remove dist/, so that
// a file built from a source that no longer exists can neither be run by the
// tests nor shipped in the package (`files` ships all of dist/lib).
import { rmSync } from 'node:fs';

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
