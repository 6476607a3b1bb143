import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { ArgumentTypeError, isTaskRef, task } from '../lib/index.js';

describe('task()', () => {
  it('accepts a file URL object and keeps the export name', () => {
    const url = pathToFileURL('/srv/app/tasks.mjs');
    const ref = task(url, 'fib');
    expect(ref).to.include({ url: url.href, exportName: 'fib' });
    expect(isTaskRef(ref)).to.equal(true);
  });

  it('turns an absolute path into a file URL and defaults to the default export', () => {
    const ref = task('/srv/app/tasks.cjs');
    expect(ref.url).to.equal('file:///srv/app/tasks.cjs');
    expect(ref.exportName).to.equal('default');
  });

  it('accepts a file: URL string', () => {
    expect(task('file:///a/b.js', 'x').url).to.equal('file:///a/b.js');
  });

  it('refuses a relative path with an error that says how to fix it', () => {
    expect(() => task('./tasks.js', 'fib')).to.throw(
      ArgumentTypeError,
      /relative path '\.\/tasks\.js'.*new URL\('\.\/tasks\.js', import\.meta\.url\)/,
    );
  });

  it('refuses a missing export name', () => {
    expect(() => task('/a.js', '')).to.throw(ArgumentTypeError, /exportName/);
  });

  it('is frozen and not mistaken for a plain object with the same fields', () => {
    const ref = task('/a.js', 'f');
    expect(Object.isFrozen(ref)).to.equal(true);
    expect(isTaskRef({ url: 'file:///a.js', exportName: 'f' })).to.equal(false);
  });
});
