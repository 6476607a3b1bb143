/**
 * Mocha's spec reporter plus the plain closing tally line CI reads:
 * `N passed, M failed`.
 */
import Mocha from 'mocha';

const { Spec } = Mocha.reporters;
const { EVENT_RUN_END } = Mocha.Runner.constants;

class TallyReporter extends Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const stats = runner.stats;
      const passed = stats?.passes ?? 0;
      const failed = stats?.failures ?? 0;
      const pending = stats?.pending ?? 0;
      // After the spec reporter's own epilogue.
      process.nextTick(() => {
        console.log(`${passed} passed, ${failed} failed${pending ? `, ${pending} skipped` : ''}`);
      });
    });
  }
}

export default TallyReporter;
