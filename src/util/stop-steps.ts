import { ErrorCodes } from '../errors.js';
import type { Logger } from '../logger.js';

/** One named cleanup of {@link runStopSteps}. */
export interface StopStep {
  readonly name: string;
  readonly run: () => Promise<void> | void;
}

/**
 * Run every cleanup in order, each in its own try/catch, so one failure never skips the rest (the loop at the end
 * of BullMQ's `Worker.close()`). A failure is logged with `RMQ_ERR_SHUTDOWN_STEP_FAILED` and the step's name.
 *
 * @returns the names of the steps that failed (empty when all went well). Never rejects.
 */
export async function runStopSteps(steps: readonly StopStep[], logger: Logger): Promise<string[]> {
  const failed: string[] = [];
  for (const step of steps) {
    try {
      await step.run();
    } catch (err) {
      failed.push(step.name);
      logger.error({ err, step: step.name, code: ErrorCodes.SHUTDOWN_STEP_FAILED }, `stop step '${step.name}' failed`);
    }
  }
  return failed;
}
