/**
 * HMP expressions (QEMU's monitor expr_sum/expr_prod/expr_logic/expr_unary): numbers (hex with 0x,
 * decimal), `$reg` register values, + - * / % & | ^, unary minus, parentheses. Errors use QEMU's words.
 */
export type RegisterLookup = (name: string) => number | undefined;

export class ExpressionError extends Error {
  override readonly name = 'ExpressionError';
}

export function evaluate(
  text: string,
  regs: RegisterLookup = () => undefined,
): { value: number; rest: string } {
  let i = 0;
  const skip = () => {
    while (text[i] === ' ' || text[i] === '\t') i++;
  };
  const unary = (): number => {
    skip();
    const c = text[i];
    if (c === undefined) throw new ExpressionError('unexpected end of expression');
    if (c === '+') {
      i++;
      return unary();
    }
    if (c === '-') {
      i++;
      return -unary();
    }
    if (c === '~') {
      i++;
      return ~unary();
    }
    if (c === '(') {
      i++;
      const v = sum();
      skip();
      if (text[i] !== ')') throw new ExpressionError("')' expected");
      i++;
      return v;
    }
    if (c === '$') {
      i++;
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
      if (!m) throw new ExpressionError('register name expected');
      i += m[0].length;
      const v = regs(m[0].toLowerCase());
      if (v === undefined) throw new ExpressionError(`unknown register '${m[0]}'`);
      return v;
    }
    const m = /^(0x[0-9a-fA-F]+|\d+)/.exec(text.slice(i));
    if (!m) throw new ExpressionError(`invalid char '${c}' in expression`);
    i += m[0].length;
    return Number(m[0]);
  };
  const prod = (): number => {
    let v = unary();
    for (;;) {
      skip();
      const op = text[i];
      if (op !== '*' && op !== '/' && op !== '%') return v;
      i++;
      const r = unary();
      if (op === '*') v *= r;
      else {
        if (r === 0) throw new ExpressionError('division by zero');
        v = op === '/' ? Math.trunc(v / r) : v % r;
      }
    }
  };
  const logic = (): number => {
    let v = prod();
    for (;;) {
      skip();
      const op = text[i];
      if (op !== '&' && op !== '|' && op !== '^') return v;
      i++;
      const r = prod();
      const hi = (f: (a: number, b: number) => number) =>
        f(Math.floor(v / 2 ** 32), Math.floor(r / 2 ** 32)) * 2 ** 32 + (f(v >>> 0, r >>> 0) >>> 0);
      v = op === '&' ? hi((a, b) => a & b) : op === '|' ? hi((a, b) => a | b) : hi((a, b) => a ^ b);
    }
  };
  const sum = (): number => {
    let v = logic();
    for (;;) {
      skip();
      const op = text[i];
      if (op !== '+' && op !== '-') return v;
      i++;
      const r = logic();
      v = op === '+' ? v + r : v - r;
    }
  };
  const value = sum();
  skip();
  return { value, rest: text.slice(i) };
}
