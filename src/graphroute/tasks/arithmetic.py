"""Checks of answers that show their work: safe arithmetic, final-answer extraction, and whether the
final answer is actually derived from the question's quantities.

Everything here is plain text processing (no model calls). The arithmetic is evaluated with a
whitelisting AST walker, never ``eval``. Used by ``ArithmeticScorer``
and, as features, by ``LearnedScorer``.

Examples:
    >>> from graphroute.tasks.arithmetic import check_arithmetic, final_number
    >>> check_arithmetic("3 * 4 = 12, then 12 + 5 = 18")
    (1, 1)
    >>> final_number("It costs $1,250 in total.")
    '1250'
"""

from __future__ import annotations

import ast
import math
import operator
import re

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_NUM = re.compile(r"\d+(?:\.\d+)?")
_ANNOTATION = re.compile(r"<<([^<>]+)>>")
# "a op b (op c ...) = r" written in prose; operands may carry $, %, parentheses
_TERM = r"\(?\s*\$?\d+(?:\.\d+)?%?\s*\)?"
_EQUATION = re.compile(rf"((?:{_TERM}\s*[-+*/x×÷]\s*)+{_TERM})\s*=\s*\$?(-?\d+(?:\.\d+)?)")
_WORD_NUMBERS = {
    "twice": (2,), "double": (2,), "doubled": (2,), "thrice": (3,), "triple": (3,), "tripled": (3,),
    "half": (2, 0.5), "quarter": (4, 0.25), "one": (1,), "two": (2,), "three": (3,), "four": (4,), "five": (5,),
    "six": (6,), "seven": (7,), "eight": (8,), "nine": (9,), "ten": (10,), "eleven": (11,), "twelve": (12,),
    "fifteen": (15,), "twenty": (20,), "thirty": (30,), "forty": (40,), "fifty": (50,), "hundred": (100,),
    "dozen": (12,), "dozens": (12,), "third": (3,), "fourth": (4,), "fifth": (5,),
}


def safe_eval(expr: str) -> float | None:
    """Value of an arithmetic expression (+ - * / parentheses, ``x``/``×`` for times, ``%``), else None."""
    e = (expr.replace("×", "*").replace("÷", "/").replace("\\*", "*").replace("$", "").replace(",", ""))
    e = re.sub(r"(?<=[\d)\s])[xX](?=[\s\d(])", "*", e)
    e = re.sub(r"(\d+(?:\.\d+)?)\s*%", r"(\1/100)", e)
    if not re.fullmatch(r"[\d.\s+\-*/()]+", e) or "**" in e or len(e) > 200:
        return None
    try:
        tree = ast.parse(e.strip(), mode="eval")
    except SyntaxError:
        return None

    def walk(node):
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = walk(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        raise ValueError("not arithmetic")

    try:
        v = walk(tree)
    except (ValueError, ZeroDivisionError, OverflowError, RecursionError):
        return None
    return v if math.isfinite(v) else None


def numbers(text: str) -> list[str]:
    """Numbers in ``text`` (thousands separators removed), in order."""
    return [x.rstrip(".") for x in _NUM.findall(text.replace(",", ""))]


def final_number(text: str) -> str | None:
    """The answer a GSM8K-style grader reads: the last run of digits after removing commas.

    (RouteLLM's GSM8K grading; so ``"$33.00"`` reads as ``"00"``, a wrong answer.)
    """
    found = re.findall(r"\d+", text.replace(",", ""))
    return found[-1] if found else None


def equations(text: str) -> list[tuple[str, str, str]]:
    """``(left side, right side, kind)`` of every worked step: ``<<a*b=c>>`` annotations and prose equations."""
    out = []
    for m in _ANNOTATION.finditer(text):
        parts = m.group(1).split("=")
        out += [(a, b, "annotation") for a, b in zip(parts[:-1], parts[1:])]
    seen = {(_canon(a), b.strip()) for a, b, _ in out}
    prose = _ANNOTATION.sub("", text).replace(",", "")
    for m in _EQUATION.finditer(prose):
        if (_canon(m.group(1)), m.group(2).strip()) not in seen:  # "3 * 4 = <<3*4=12>>12" is one step
            out.append((m.group(1), m.group(2), "prose"))
    return out


def _canon(expr: str) -> str:
    e = re.sub(r"\s+|\$", "", expr.replace("×", "*").replace("\\*", "*"))
    return re.sub(r"(?<=[\d)])[xX](?=[\d(])", "*", e)


def _close(value: float, claimed: float, kind: str) -> bool:
    if abs(value - claimed) <= 1e-6 * max(1.0, abs(value)) + 1e-9:
        return True
    # prose steps round ("= 6.67"): accept 1 % or rounding to 2 decimals
    return kind == "prose" and (abs(value - claimed) <= 0.011 * max(1.0, abs(value)) or round(value, 2) == claimed)


def check_arithmetic(text: str) -> tuple[int, int]:
    """(correct steps, wrong steps) among the equations whose both sides can be evaluated."""
    ok = bad = 0
    for lhs, rhs, kind in equations(text):
        v, r = safe_eval(lhs), safe_eval(rhs)
        if v is None or r is None:
            continue
        if _close(v, r, kind):
            ok += 1
        else:
            bad += 1
    return ok, bad


def _as_float(x: str) -> float | None:
    try:
        return round(float(x), 6)
    except ValueError:
        return None


def question_quantities(question: str) -> list[tuple[str, set[float]]]:
    """Quantities stated in a question, each with the values a solution may use for it.

    ``30%`` may appear as 30, 0.3, 1.3, 0.7 or 70; ``2/3`` as 0.667 or 1.5; ``twice`` as 2.
    """
    items: list[tuple[str, set[float]]] = []
    t = question.replace(",", "")
    for m in re.finditer(r"(\d+(?:\.\d+)?)\s*(%|percent)?", t):
        v = float(m.group(1))
        alts = {v}
        if m.group(2):
            alts |= {v / 100, 1 + v / 100, 1 - v / 100, 100 - v, 100 + v}
        items.append(("number", {round(a, 6) for a in alts}))
    for m in re.finditer(r"(\d+)/(\d+)", t):
        a, b = float(m.group(1)), float(m.group(2))
        if a and b:
            items.append(("fraction", {round(a / b, 6), round(1 - a / b, 6), round(b / a, 6)}))
    for w in re.findall(r"[a-z]+", question.lower()):
        if w in _WORD_NUMBERS:
            items.append(("word", {float(x) for x in _WORD_NUMBERS[w]}))
    return items


def derivation(question: str, answer: str) -> dict[str, float]:
    """How the final answer is derived: which question quantities flow into it through the worked steps.

    Keys: ``covered`` (share of the question's numbers that reach the final answer), ``missing``
    (how many do not), ``words_missing`` (number words such as "twice" not used), ``any_covered``
    (share of question numbers used anywhere), ``dangling`` (intermediate results never used
    again), ``chain`` (size of the final answer's derivation), ``is_result`` (the final number is
    the result of a step).
    """
    deps: dict[float, set[float]] = {}
    for lhs, rhs, _ in equations(answer):
        r = _as_float(rhs.strip().rstrip("."))
        if r is None:
            continue
        ops = {v for v in (_as_float(x) for x in numbers(lhs)) if v is not None}
        ops |= {round(float(p) / 100, 6) for p in re.findall(r"(\d+(?:\.\d+)?)\s*%", lhs)}
        deps.setdefault(r, set()).update(ops)
    nums = [v for v in (_as_float(x) for x in numbers(answer)) if v is not None]
    last = nums[-1] if nums else None
    seen: set[float] = set()
    stack = [last] if last is not None else []
    while stack:
        x = stack.pop()
        if x not in seen:
            seen.add(x)
            stack += [y for y in deps.get(x, ()) if y not in seen]
    used_later = set().union(*deps.values()) if deps else set()
    items = question_quantities(question)

    def coverage(kind: str, pool: set[float]) -> tuple[float, int]:
        alts = [a for k, a in items if k == kind]
        hit = sum(1 for a in alts if a & pool)
        return (hit / len(alts) if alts else 1.0), len(alts) - hit

    covered, missing = coverage("number", seen)
    _, words_missing = coverage("word", seen)
    any_cov, _ = coverage("number", set(nums))
    return {
        "covered": covered, "missing": float(missing), "words_missing": float(words_missing), "any_covered": any_cov,
        "dangling": float(sum(1 for r in deps if r not in used_later and r != last)),
        "chain": float(len(seen)), "is_result": float(last in deps),
    }
