/**
 * Crash blame (lib/engine/crash-blame.ts), the pure decision of what a
 * worker's death means for the tasks in its line and for the executor's
 * count of failed starts. The same cases happen with real workers in
 * robustness.spec.ts and retries.spec.ts; here each rule is pinned alone.
 */
import { expect } from 'chai';
import { blameCrash, type DeadWorkerFacts } from '../lib/engine/crash-blame.js';
import { RESULTS_FLUSH_COUNT } from '../lib/wire/protocol.js';

const plain = { transfer: false, reportAlone: false };

function line(count: number, first: Partial<typeof plain> = {}): DeadWorkerFacts['tasks'] {
  return Array.from({ length: count }, (_, i) => (i === 0 ? { ...plain, ...first } : plain));
}

describe('crash blame', () => {
  describe('a ready worker that died on its own', () => {
    it('blames the one task in its line', () => {
      const blame = blameCrash({ ready: true, ending: undefined, tasks: line(1) });
      expect(blame.verdicts).to.deep.equal(['crashed']);
      expect(blame.failedStart).to.equal(false);
      expect(blame.neverStarted).to.equal(false);
    });

    it('blames nobody when outcomes of several tasks were unreported: each may have been running, and reruns reporting alone', () => {
      const blame = blameCrash({ ready: true, ending: undefined, tasks: line(3) });
      expect(blame.verdicts).to.deep.equal(['rerun-alone', 'rerun-alone', 'rerun-alone']);
    });

    it('suspects only the first RESULTS_FLUSH_COUNT + 1 tasks: a worker reports at least that often', () => {
      const count = RESULTS_FLUSH_COUNT + 3;
      const { verdicts } = blameCrash({ ready: true, ending: undefined, tasks: line(count) });
      expect(verdicts.slice(0, RESULTS_FLUSH_COUNT + 1).every((v) => v === 'rerun-alone')).to.equal(
        true,
      );
      expect(verdicts.slice(RESULTS_FLUSH_COUNT + 1)).to.deep.equal(['rerun', 'rerun']);
    });

    it('blames a task that already ran reporting alone: the crash is its own, and the rest never started', () => {
      const blame = blameCrash({
        ready: true,
        ending: undefined,
        tasks: line(3, { reportAlone: true }),
      });
      expect(blame.verdicts).to.deep.equal(['crashed', 'rerun', 'rerun']);
    });

    it('blames the running task of a worker that was retired (asked to exit) when it crashed', () => {
      const blame = blameCrash({
        ready: true,
        ending: 'retired',
        tasks: line(2, { reportAlone: true }),
      });
      expect(blame.verdicts).to.deep.equal(['crashed', 'rerun']);
      expect(blame.failedStart).to.equal(false);
    });
  });

  describe('a worker the engine killed', () => {
    for (const ending of ['timeout', 'cancelled', 'output-broken'] as const) {
      it(`blames nobody when it was killed for '${ending}': the stopped task is settled already`, () => {
        const blame = blameCrash({ ready: true, ending, tasks: line(3) });
        expect(blame.verdicts).to.deep.equal(['rerun', 'rerun', 'rerun']);
        expect(blame.failedStart).to.equal(false);
      });
    }
  });

  describe('a worker that never got ready', () => {
    it('counts as a failed start when it died on its own, and its tasks (which never started) run elsewhere', () => {
      const blame = blameCrash({ ready: false, ending: undefined, tasks: line(2) });
      expect(blame).to.deep.equal({
        neverStarted: true,
        failedStart: true,
        verdicts: ['rerun', 'rerun'],
      });
    });

    for (const ending of ['initializer-failed', 'initializer-timeout'] as const) {
      it(`counts as a failed start when it was killed for '${ending}'`, () => {
        const blame = blameCrash({ ready: false, ending, tasks: line(1) });
        expect(blame.failedStart).to.equal(true);
        expect(blame.verdicts).to.deep.equal(['rerun']);
      });
    }

    it('does not count as a failed start when shutdown stopped it while it started', () => {
      const blame = blameCrash({ ready: false, ending: 'retired', tasks: line(1) });
      expect(blame.failedStart).to.equal(false);
      expect(blame.neverStarted).to.equal(true);
      expect(blame.verdicts).to.deep.equal(['rerun']);
    });

    it('does not count as a failed start when task output broke its streams while it started', () => {
      const blame = blameCrash({ ready: false, ending: 'output-broken', tasks: [] });
      expect(blame.failedStart).to.equal(false);
    });
  });

  it('fails a task whose transfer list moved its buffers to the dead worker, wherever it was in the line', () => {
    const moved = { transfer: true, reportAlone: false };
    for (const facts of [
      { ready: true, ending: undefined, tasks: [plain, moved] },
      { ready: true, ending: 'timeout', tasks: [moved, plain] },
      { ready: false, ending: undefined, tasks: [moved] },
    ] as DeadWorkerFacts[]) {
      const { verdicts } = blameCrash(facts);
      facts.tasks.forEach((task, i) => {
        if (task.transfer) expect(verdicts[i], JSON.stringify(facts)).to.equal('lost-transfer');
        else expect(verdicts[i]).to.not.equal('lost-transfer');
      });
    }
  });

  it('has nothing to decide for an empty line', () => {
    expect(blameCrash({ ready: true, ending: undefined, tasks: [] }).verdicts).to.deep.equal([]);
  });
});
