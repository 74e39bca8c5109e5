// Preloaded with `node -r`: reports the process's peak resident set size and CPU time at exit.
// On Linux the peak is VmHWM from /proc/self/status: getrusage's maxRSS also counts the
// parent's resident set at fork time, which would charge the benchmark's own memory to the task.
const fs = require("node:fs");
process.on("exit", () => {
  const usage = process.resourceUsage();
  let peakKb = usage.maxRSS;
  try {
    const hwm = /VmHWM:\s*(\d+)\s*kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
    if (hwm) peakKb = Number(hwm[1]);
  } catch {
    // Not Linux: keep maxRSS.
  }
  fs.writeSync(2, `\nBENCH_MAX_RSS_KB=${peakKb} BENCH_CPU_MS=${Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000)}\n`);
});
