/**
 * The frame every task entry runs in: cancellation on the agent's signals,
 * one clear failure message (code, message, request id; never a dump), and
 * the task result.
 */
import { taskLibAgent, type Agent } from "./agent";
import { cancelOnSignals } from "./cancel";
import { CancelledError, describeError, describeErrorChain, InputError } from "./errors";

export interface TaskContext {
  agent: Agent;
  signal: AbortSignal;
}

export async function runTask(main: (context: TaskContext) => Promise<string>, agent: Agent = taskLibAgent()): Promise<void> {
  const cancellation = cancelOnSignals();
  try {
    const message = await main({ agent, signal: cancellation.signal });
    agent.setSucceeded(message);
  } catch (error) {
    // The agent reads the result from task.complete; a non-zero exit also tells scripts that run a task directly.
    process.exitCode = 1;
    if (cancellation.signal.aborted || error instanceof CancelledError) {
      agent.setFailed(error instanceof CancelledError ? error.message : "The task was cancelled.");
    } else {
      // The whole cause chain (code, status, request id, stack of each) for system.debug; an input error's own stack says nothing.
      if (!(error instanceof InputError) || error.cause !== undefined) for (const line of describeErrorChain(error)) agent.debug(line);
      agent.setFailed(describeError(error));
    }
  } finally {
    cancellation.dispose();
  }
}
