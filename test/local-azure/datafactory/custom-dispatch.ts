/**
 * Which way a Custom activity runs: a test's script simulates it (the script
 * wins); else, when the Batch linked service points at the local Batch (see
 * `CustomActivityBridge.handles`), the bridge runs it there as a real Batch
 * task; else it is simulated with ADF's output shape. Tests may still replace
 * the whole runner (DataFactoryState.customActivityRunner).
 */
import { simulatedCustomActivityRunner, type CustomActivityContext, type CustomActivityRunner } from "./activities";

export interface CustomActivityBridge {
  /** True when the activity's Batch linked service names the local Batch service. */
  handles(ctx: CustomActivityContext): boolean;
  run: CustomActivityRunner;
}

export function dispatchingCustomActivityRunner(bridge: () => CustomActivityBridge | undefined): CustomActivityRunner {
  return (ctx) => {
    if (ctx.script) return simulatedCustomActivityRunner(ctx);
    const b = bridge();
    return b?.handles(ctx) ? b.run(ctx) : simulatedCustomActivityRunner(ctx);
  };
}
