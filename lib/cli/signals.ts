/**
 * Interrupts. The first SIGINT or SIGTERM asks the run to stop gracefully
 * (cancel running tasks, write what finished, let the workers go); a
 * second one exits at once. Either way no worker survives: the library
 * kills its workers' process groups when this process exits.
 *
 * Workers lead their own process groups, so a terminal's Ctrl-C reaches
 * only this process; these handlers decide what it means.
 */

const EXIT_CODES: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };

/** The watched signals and how the run reacts to them. */
export interface Interrupts {
  /** Aborts on the first signal; its reason is the signal's name. */
  readonly signal: AbortSignal;
  /** 130 or 143 once a signal arrived, else undefined. */
  exitCode(): number | undefined;
  /** Removes the handlers. */
  dispose(): void;
}

/**
 * Installs the handlers. `beforeForcedExit` runs synchronously on the second
 * signal, just before `process.exit`: restore the terminal, write what can be
 * written.
 */
export function watchInterrupts(beforeForcedExit: (signal: NodeJS.Signals) => void): Interrupts {
  const controller = new AbortController();
  let first: NodeJS.Signals | undefined;
  const handler = (signal: NodeJS.Signals): void => {
    if (first === undefined) {
      first = signal;
      controller.abort(signal);
      return;
    }
    beforeForcedExit(signal);
    process.exit(EXIT_CODES[first] ?? 1);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    exitCode: () => (first === undefined ? undefined : (EXIT_CODES[first] ?? 1)),
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
