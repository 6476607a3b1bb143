// Part of `npm run build`, after tsc: bundles each worker entry (and all it
// imports) into one CommonJS file. A worker then starts without Node's ESM
// loader and without resolving a dozen modules, which is most of what a
// worker costs to start beyond Node itself (measured: ESM loader 15-25 ms,
// the runtime's module graph 14-20 ms, on this 2-core machine). Task modules
// are still loaded with import(), so ESM task code works as before.
//
// nested-executor.cjs is apart: `currentTask().executor` with the Future
// class, the executor base and map (half of what the entries would hold),
// which a worker loads the first time task code reads it (nested-hub.ts).
// `import.meta.url` becomes the bundle's path, which is what that
// createRequire() needs (a CommonJS bundle has no import.meta).
import { build } from 'esbuild';

await build({
  entryPoints: [
    'lib/worker/process-entry.ts',
    'lib/worker/thread-entry.ts',
    'lib/worker/nested-executor.ts',
  ],
  outdir: 'dist/lib/worker',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20.19',
  define: { 'import.meta.url': '__filename' },
  logLevel: 'warning',
});
