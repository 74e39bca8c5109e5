/**
 * The roll-out's events as the log and the agent's progress bar show them:
 * one line per event (the plan, each batch with its nodes and their states as
 * they change, autoscale paused and restored), and a percentage over every
 * pool of the run (each pool an equal share, filled as its batches finish).
 */
import type { Agent } from "../../runtime/agent";
import { formatCycleEvent, type CycleEvent } from "./roll";

export class CycleProgress {
  /** The pool being cycled, as an index into poolIds (-1 before the first plan). */
  private current = -1;
  private toCycle = 0;
  private done = 0;

  constructor(
    private readonly agent: Pick<Agent, "info" | "setProgress">,
    /** The pools of the run, in the order they are cycled. */
    private readonly poolIds: readonly string[],
  ) {}

  /** The share done so far, 0 to 100: the pools before the current one, and the current one's cycled share. */
  percent(): number {
    if (this.current < 0) return 0;
    const share = this.toCycle === 0 ? 1 : Math.min(1, this.done / this.toCycle);
    return (100 * (this.current + share)) / Math.max(1, this.poolIds.length);
  }

  onEvent(event: CycleEvent): void {
    this.agent.info(formatCycleEvent(event));
    switch (event.kind) {
      case "plan":
        this.current = Math.max(this.current, this.poolIds.findIndex((id) => id.toLowerCase() === event.poolId.toLowerCase()));
        this.toCycle = event.toCycle;
        this.done = 0;
        this.report(event.poolId);
        break;
      case "batchStarted":
        this.report(event.poolId, `batch ${event.index}`);
        break;
      case "batchDone":
        this.done += event.nodeIds.length;
        this.report(event.poolId);
        break;
      default:
        break;
    }
  }

  private report(poolId: string, detail?: string): void {
    const of = this.poolIds.length > 1 ? ` (pool ${this.current + 1} of ${this.poolIds.length})` : "";
    this.agent.setProgress(this.percent(), `Cycling pool ${poolId}${of}: ${this.done}/${this.toCycle} node(s)${detail ? `, ${detail}` : ""}`);
  }
}
