/**
 * The one escaping path for text printed to the agent's log. The agent runs
 * any line holding `##vso[` as a logging command and treats `##[` as
 * formatting, so text that comes from files or from Azure (file and blob
 * names, error messages) must never be able to form one: both are broken with
 * an invisible zero-width space, and line breaks and other control
 * characters are shown escaped, so one message is always one line.
 */

const ZERO_WIDTH_SPACE = "\u200b";

export function escapeLogText(text: string): string {
  return (
    text
      // `##vso[` and `##[`, in any case: the agent matches the prefix case-insensitively.
      .replace(/##(?=vso\[|\[)/gi, `#${ZERO_WIDTH_SPACE}#`)
      .replace(/\r/g, "\\r")
      .replace(/\n/g, "\\n")
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)
  );
}
