// Loaded into every test process (mocha, the tasks it runs, the local Azure's
// children) through NODE_OPTIONS: a connection to anything but loopback is
// refused and recorded, and the test runner fails the run if any was tried.
"use strict";
const fs = require("node:fs");
const net = require("node:net");

function isLoopback(host) {
  if (!host || host === "localhost") return true;
  const h = String(host).replace(/^\[|\]$/g, "");
  return /^127\.\d+\.\d+\.\d+$/.test(h) || h === "::1" || h === "::ffff:127.0.0.1";
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(...args) {
  const first = args[0];
  const options = Array.isArray(first) ? first[0] : typeof first === "object" && first !== null ? first : { port: first, host: typeof args[1] === "string" ? args[1] : undefined };
  if (options && !options.path && !isLoopback(options.host)) {
    const message = `refused a connection to ${options.host}:${options.port} (tests talk to loopback only)`;
    const log = process.env.LOOPBACK_GUARD_LOG;
    if (log) fs.appendFileSync(log, `${process.pid} ${message}\n`);
    const error = Object.assign(new Error(message), { code: "ECONNREFUSED" });
    process.nextTick(() => this.destroy(error));
    return this;
  }
  return connect.apply(this, args);
};
