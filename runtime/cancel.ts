/**
 * The agent cancels a task with SIGINT, then SIGTERM. Both abort one signal
 * that every wait and transfer listens to, so a task can stop cleanly.
 */
export interface Cancellation {
  signal: AbortSignal;
  dispose(): void;
}

import { setMaxListeners } from "node:events";

export function cancelOnSignals(signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM"]): Cancellation {
  const controller = new AbortController();
  // Every concurrent request listens to this one signal.
  setMaxListeners(0, controller.signal);
  const onSignal = (name: NodeJS.Signals) => controller.abort(new Error(`Received ${name}`));
  for (const s of signals) process.on(s, onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      for (const s of signals) process.off(s, onSignal);
    },
  };
}
