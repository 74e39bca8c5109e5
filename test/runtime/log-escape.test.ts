import { strict as assert } from "node:assert";
import { escapeLogText } from "../../runtime/log-escape";
import { encodeBlobPath } from "../../runtime/blob-naming";

describe("runtime: the log's one escaping path", () => {
  it("neutralises ##vso[ and ##[ in any case, and keeps every message on one line", () => {
    const out = escapeLogText("a ##vso[task.complete result=Failed]x ##VSO[task.setvariable] ##[error]y\r\nz\u001b[31m");
    assert.ok(!/##vso\[/i.test(out) && !out.includes("##["), out);
    assert.ok(!/[\r\n\u001b]/.test(out));
    assert.equal(out, "a #\u200b#vso[task.complete result=Failed]x #\u200b#VSO[task.setvariable] #\u200b#[error]y\\r\\nz\\x1b[31m");
    assert.equal(escapeLogText("plain text, tabs\tkept"), "plain text, tabs\tkept");
  });

  it("encodes blob paths for URLs segment by segment", () => {
    assert.equal(encodeBlobPath("rel #1/50% off?/a b/"), "rel%20%231/50%25%20off%3F/a%20b/");
    assert.equal(encodeBlobPath("app/1.0/"), "app/1.0/");
  });
});
