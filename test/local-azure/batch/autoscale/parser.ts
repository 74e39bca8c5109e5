/**
 * Recursive-descent parser. The docs give no precedence table; this follows
 * the only published parser for the language (lgolding/auto-scale), lowest
 * to highest: `?:` (branches at `||` level, so nested ternaries need
 * parentheses) → `||` → `&&` → `< <= == != >= >` (one left-associative
 * level) → `+ -` → `* /` → unary `- !` → primary and `.member` / `.Method()`.
 *
 *   formula    = statement { ";" statement } [ ";" ]
 *   statement  = name "=" expression | name "(" [ args ] ")"      (e.g. stop())
 *   expression = or [ "?" or ":" or ]
 *   or         = and { "||" and }
 *   and        = comparison { "&&" comparison }
 *   comparison = additive { ( "<" | "<=" | "==" | "!=" | ">=" | ">" ) additive }
 *   additive   = term { ( "+" | "-" ) term }
 *   term       = unary { ( "*" | "/" ) unary }
 *   unary      = ( "-" | "!" ) unary | postfix
 *   postfix    = primary { "." name [ "(" [ args ] ")" ] }
 *   primary    = number | string | name [ "(" [ args ] ")" ] | "(" expression ")"
 *   args       = expression { "," expression }
 */
import { AutoScaleErrorCode, FormulaError, type SourcePosition } from "./errors";
import { tokenize, type Token } from "./lexer";

export type BinaryOperator = "+" | "-" | "*" | "/" | "<" | "<=" | "==" | "!=" | ">=" | ">" | "&&" | "||";

export type Expr =
  | { kind: "number"; value: number; pos: SourcePosition }
  | { kind: "string"; value: string; pos: SourcePosition }
  | { kind: "name"; name: string; pos: SourcePosition }
  | { kind: "call"; name: string; args: Expr[]; pos: SourcePosition }
  | { kind: "method"; target: Expr; name: string; args: Expr[]; pos: SourcePosition }
  | { kind: "member"; target: Expr; name: string; pos: SourcePosition }
  | { kind: "unary"; op: "-" | "!"; operand: Expr; pos: SourcePosition }
  | { kind: "binary"; op: BinaryOperator; left: Expr; right: Expr; pos: SourcePosition }
  | { kind: "ternary"; condition: Expr; whenTrue: Expr; whenFalse: Expr; pos: SourcePosition };

export type Statement =
  | { kind: "assign"; name: string; expr: Expr; pos: SourcePosition }
  /** A bare call used as a statement, such as `stop();`. */
  | { kind: "call"; expr: Expr; pos: SourcePosition };

export interface Formula {
  statements: Statement[];
}

/** Documented limits: the formula may be at most 8 KB (8192 characters) and hold at most 100 statements. */
export const MAX_FORMULA_LENGTH = 8192;
export const MAX_STATEMENTS = 100;

const COMPARISONS = new Set(["<", "<=", "==", "!=", ">=", ">"]);

export function parseFormula(source: string): Formula {
  if (source.length > MAX_FORMULA_LENGTH) {
    throw new FormulaError(
      AutoScaleErrorCode.TooLong,
      `The formula is ${source.length} characters long; at most ${MAX_FORMULA_LENGTH} are allowed`,
      { line: 1, col: 1 },
      "validation",
    );
  }
  return new Parser(tokenize(source)).formula();
}

class Parser {
  private i = 0;

  constructor(private readonly tokens: Token[]) {}

  formula(): Formula {
    const statements: Statement[] = [];
    while (this.peek().kind !== "eof") {
      statements.push(this.statement());
      const next = this.peek();
      if (next.kind === "eof") break;
      if (this.isOp(";")) {
        this.i++;
        continue;
      }
      throw this.error(next, next.kind === "name" ? `Expected ';' before '${next.text}': statements are separated by ';'` : `Unexpected '${next.text}' after a complete statement`);
    }
    if (statements.length === 0) throw this.error(this.peek(), "The formula has no statements");
    if (statements.length > MAX_STATEMENTS) {
      throw new FormulaError(
        AutoScaleErrorCode.TooLong,
        `The formula has ${statements.length} statements; at most ${MAX_STATEMENTS} are allowed`,
        statements[MAX_STATEMENTS].pos,
        "validation",
      );
    }
    return { statements };
  }

  private statement(): Statement {
    const first = this.peek();
    if (first.kind === "name" && this.peek(1).kind === "op" && this.peek(1).text === "=") {
      this.i += 2;
      if (this.isOp(";") || this.peek().kind === "eof") throw this.error(this.peek(), `Expected an expression after '${first.text} ='`);
      return { kind: "assign", name: first.text, expr: this.expression(), pos: first.pos };
    }
    if (first.kind === "name" && this.peek(1).kind === "op" && this.peek(1).text === "(") {
      const expr = this.expression();
      if (expr.kind === "call") return { kind: "call", expr, pos: first.pos };
      throw this.error(first, `Expected an assignment: a statement is 'name = expression'`);
    }
    if (first.kind === "op" && first.text === ";") throw this.error(first, "Empty statement: unexpected ';'");
    throw this.error(first, first.kind === "name" ? `Expected '=' after '${first.text}': a statement is 'name = expression'` : `Unexpected '${first.text}': a statement is 'name = expression'`);
  }

  expression(): Expr {
    const condition = this.or();
    if (!this.isOp("?")) return condition;
    const pos = this.next().pos;
    const whenTrue = this.or();
    this.expect(":", "in a conditional 'condition ? value : value'");
    const whenFalse = this.or();
    if (this.isOp("?")) throw this.error(this.peek(), "Nested conditional: put the inner 'condition ? value : value' in parentheses");
    return { kind: "ternary", condition, whenTrue, whenFalse, pos };
  }

  private or(): Expr {
    let left = this.and();
    while (this.isOp("||")) {
      const pos = this.next().pos;
      left = { kind: "binary", op: "||", left, right: this.and(), pos };
    }
    return left;
  }

  private and(): Expr {
    let left = this.comparison();
    while (this.isOp("&&")) {
      const pos = this.next().pos;
      left = { kind: "binary", op: "&&", left, right: this.comparison(), pos };
    }
    return left;
  }

  private comparison(): Expr {
    let left = this.additive();
    while (this.peek().kind === "op" && COMPARISONS.has(this.peek().text)) {
      const t = this.next();
      left = { kind: "binary", op: t.text as BinaryOperator, left, right: this.additive(), pos: t.pos };
    }
    return left;
  }

  private additive(): Expr {
    let left = this.multiplicative();
    while (this.isOp("+") || this.isOp("-")) {
      const t = this.next();
      left = { kind: "binary", op: t.text as BinaryOperator, left, right: this.multiplicative(), pos: t.pos };
    }
    return left;
  }

  private multiplicative(): Expr {
    let left = this.unary();
    while (this.isOp("*") || this.isOp("/")) {
      const t = this.next();
      left = { kind: "binary", op: t.text as BinaryOperator, left, right: this.unary(), pos: t.pos };
    }
    return left;
  }

  private unary(): Expr {
    if (this.isOp("-") || this.isOp("!")) {
      const t = this.next();
      return { kind: "unary", op: t.text as "-" | "!", operand: this.unary(), pos: t.pos };
    }
    return this.postfix();
  }

  private postfix(): Expr {
    let expr = this.primary();
    while (this.isOp(".")) {
      this.i++;
      const name = this.next();
      if (name.kind !== "name" || name.text.startsWith("$")) throw this.error(name, `Expected a method or member name after '.'`);
      if (this.isOp("(")) {
        expr = { kind: "method", target: expr, name: name.text, args: this.args(), pos: name.pos };
      } else {
        expr = { kind: "member", target: expr, name: name.text, pos: name.pos };
      }
    }
    return expr;
  }

  private primary(): Expr {
    const t = this.next();
    switch (t.kind) {
      case "number":
        return { kind: "number", value: t.value!, pos: t.pos };
      case "string":
        return { kind: "string", value: t.text, pos: t.pos };
      case "name":
        if (this.isOp("(")) {
          if (t.text.startsWith("$")) throw this.error(t, `'${t.text}' is a variable, not a function`);
          return { kind: "call", name: t.text, args: this.args(), pos: t.pos };
        }
        return { kind: "name", name: t.text, pos: t.pos };
      case "op":
        if (t.text === "(") {
          const inner = this.expression();
          this.expect(")", "to close '('");
          return inner;
        }
        throw this.error(t, `Unexpected '${t.text}': expected a value`);
      case "eof":
        throw this.error(t, "Unexpected end of formula: expected a value");
    }
  }

  private args(): Expr[] {
    this.expect("(", "");
    const args: Expr[] = [];
    if (this.isOp(")")) {
      this.i++;
      return args;
    }
    for (;;) {
      args.push(this.expression());
      if (this.isOp(",")) {
        this.i++;
        continue;
      }
      this.expect(")", "to close the argument list");
      return args;
    }
  }

  private peek(ahead = 0): Token {
    return this.tokens[Math.min(this.i + ahead, this.tokens.length - 1)];
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== "eof") this.i++;
    return t;
  }

  private isOp(text: string): boolean {
    const t = this.peek();
    return t.kind === "op" && t.text === text;
  }

  private expect(text: string, why: string): void {
    const t = this.peek();
    if (t.kind === "op" && t.text === text) {
      this.i++;
      return;
    }
    const found = t.kind === "eof" ? "the end of the formula" : `'${t.text}'`;
    throw this.error(t, `Expected '${text}'${why ? ` ${why}` : ""}, found ${found}`);
  }

  private error(t: Token, detail: string): FormulaError {
    return new FormulaError(AutoScaleErrorCode.SyntaxError, detail, t.pos, "validation");
  }
}
