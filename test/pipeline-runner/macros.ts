/**
 * `$(name)` macro expansion as the agent does it before a task runs: names are
 * case-insensitive, a variable's value may itself hold macros. Where the agent
 * leaves an undefined macro as literal text, the runner reports it (a typo in
 * a copied pipeline should fail here, not deep inside a task), except for the
 * outputs of a step that did not run, which stay literal as on the agent.
 */

export interface MacroScope {
  /** Variable value by name, case-insensitive; undefined when not defined. */
  variable(name: string): string | undefined;
  /** Output variable `step.Var`: the value, "literal" for a step that did not run, or undefined. */
  stepOutput(step: string, variable: string): { value: string } | "literal" | undefined;
  /** Why `step.Var` is not defined, for the message (e.g. the outputs the step did set). */
  explainMissing(name: string): string;
}

export class MacroError extends Error {
  override name = "MacroError";
}

const MACRO = /\$\(([A-Za-z0-9_.\- ]+)\)/g;

export function expandMacros(text: string, scope: MacroScope, where: string, depth = 0): string {
  if (text.includes("$[")) throw new MacroError(`${where}: runtime expressions ($[ ... ]) are not supported by the local runner`);
  if (depth > 8) throw new MacroError(`${where}: variables refer to each other in a loop`);
  return text.replace(MACRO, (whole, rawName: string) => {
    const name = rawName.trim();
    const value = scope.variable(name);
    if (value !== undefined) return expandMacros(value, scope, `${where} (through $(${name}))`, depth + 1);
    const dot = name.indexOf(".");
    if (dot > 0) {
      const output = scope.stepOutput(name.slice(0, dot), name.slice(dot + 1));
      if (output === "literal") return whole;
      if (output) return output.value;
    }
    throw new MacroError(`${where} uses $(${name}), which is not defined: ${scope.explainMissing(name)}`);
  });
}

/** The environment variable name the agent gives a variable (and task-lib reads): dots and spaces to _, upper case. */
export function variableEnvName(name: string): string {
  return name.replace(/[. ]/g, "_").toUpperCase();
}
