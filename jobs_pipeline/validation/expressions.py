"""Each rule compiled to one polars boolean expression: True where the record fails it.

Values are strings as the seller wrote them, so typing is strict (``5.0`` is not an integer,
``N/A`` not a number); patterns are anchored and use ASCII classes; lengths count characters.
``unique`` here is within one frame; across a whole file the engine decides it.
"""

from functools import cache

import polars as pl

from jobs_pipeline.validation.ruleset import Rule

INTEGER = r"^-?[0-9]+$"
DECIMAL = r"^-?[0-9]+(\.[0-9]+)?$"
BOOLEAN = r"^(?i:true|false|yes|no)$"
DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
HTTPS_URL = r"^https://[A-Za-z0-9.\-]+(:[0-9]{1,5})?([/?#][^\s]*)?$"
GTIN_DIGITS = r"^([0-9]{8}|[0-9]{12,14})$"
TYPE_PATTERNS = {"integer": INTEGER, "decimal": DECIMAL, "boolean": BOOLEAN, "date": DATE}


def missing(col: pl.Expr) -> pl.Expr:
    """Null, empty or only whitespace."""
    # strip_chars_start + len_bytes measured ~3x cheaper than a ^\s*$ regex or strip_chars.
    return col.is_null() | (col.str.strip_chars_start().str.len_bytes() == 0)


def number(col: pl.Expr) -> pl.Expr:
    """The value as a float when it is a strict decimal, else null."""
    return pl.when(col.str.contains(DECIMAL)).then(col.cast(pl.Float64, strict=False))


def in_range(value: pl.Expr, rule: Rule) -> pl.Expr:
    ok = pl.lit(True)
    if rule.min is not None:
        ok = ok & ((value > rule.min) if rule.min_exclusive else (value >= rule.min))
    if rule.max is not None:
        ok = ok & ((value < rule.max) if rule.max_exclusive else (value <= rule.max))
    return ok


@cache
def _group_tables() -> tuple[pl.Series, pl.Series]:
    """Weighted digit sum mod 10 of every 5-digit group 00000-99999, weights alternating from
    the group's rightmost digit: 1, 3, 1, ... (``even``) and 3, 1, 3, ... (``odd``); built on
    first use (a ruleset without ``gtin`` never pays for it).

    By recurrence in plain Python: even(q) = d + odd(q // 10) and odd(q) = 3d + even(q // 10),
    d the last digit. Not by polars: computing with polars at
    import starts its thread pool in the importing process, and a Celery prefork child
    forked from it then deadlocks on its first parallel operation."""
    even, odd = [0] * 1000, [0] * 1000
    for q in range(1, 1000):
        d, rest = q % 10, q // 10
        even[q], odd[q] = d + odd[rest], 3 * d + even[rest]
    # Five digits as three then two: the two low digits weigh 1, 3 (even) or 3, 1 (odd), so the
    # three high ones start on the same parity again, and only the high part's sum mod 10 matters:
    # 10 rows of 100 sums, joined 1000 times (~5 ms, where digit by digit took 50).
    tables = []
    for low in (even, odd):
        rows = [bytes((k + b) % 10 for b in low[:100]) for k in range(10)]
        tables.append(pl.Series(list(b"".join(rows[a % 10] for a in low)), dtype=pl.UInt8))
    return tables[0], tables[1]


def _gs1_ok(n: pl.Expr) -> pl.Expr:
    """GS1 mod 10 as integer arithmetic: with the rightmost digit at k=0, the weighted sum of
    digits (3 on odd k, 1 on even k) is a multiple of 10. Leading zeros add nothing. The 14
    digits are three groups of five (the last one short), each summed by one lookup in a
    100,000-entry table (measured 4.5x faster than digit-by-digit division with 4-digit
    groups, and 1.5x faster again with 5-digit ones)."""
    rest = n // 100_000
    # Digits k=0..4 and k=10..13 of a GTIN start on an even k (weight 1); k=5..9 on an odd k (3).
    even, odd = _group_tables()
    total = (pl.lit(even).gather(n % 100_000).cast(pl.UInt16)
             + pl.lit(odd).gather(rest % 100_000).cast(pl.UInt16)
             + pl.lit(even).gather((rest // 100_000) % 100_000).cast(pl.UInt16))  # % : a 16+ digit
    # value is no GTIN (its length says so) but every branch is evaluated: stay in the table.
    return (total % 10) == 0


def _prefix_ranges(prefixes: list[str]) -> list[tuple[int, int]]:
    """Each banned prefix of the 13-digit form as a half-open range of that form's values
    (``981`` -> [981e10, 982e10)), adjacent ranges merged (981..984 is one range)."""
    spans = sorted((int(p) * 10 ** (13 - len(p)), (int(p) + 1) * 10 ** (13 - len(p))) for p in prefixes)
    merged: list[tuple[int, int]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def gtin_number(col: pl.Expr) -> pl.Expr:
    """The value as an unsigned integer, or null (see :func:`gtin_bad`)."""
    return col.cast(pl.UInt64, strict=False)


#: Up to this many listed values, :func:`one_of` compares instead of hashing.
ONE_OF_EQUALITIES = 8


def one_of(col: pl.Expr, values: list) -> pl.Expr:
    """``col.is_in(values)`` (null stays null), as equalities when the list is short:
    measured 2.5x (4 strings) to 3.5x (1 string) cheaper, since a string view compares its
    length and first bytes inline where ``is_in`` hashes every value."""
    if not values or len(values) > ONE_OF_EQUALITIES:
        return col.is_in(values)
    return pl.any_horizontal([col == v for v in values])


def gtin_bad(col: pl.Expr, rule: Rule, n: pl.Expr | None = None) -> pl.Expr:
    """GTIN_DIGITS without a regex (measured 4x cheaper): 8/12/13/14 bytes that parse as an
    unsigned integer are all ASCII digits, except a leading "+" which the parser accepts
    ("-" it refuses). 14 digits fit a UInt64, so one cast serves the format, the check digit
    and the prefixes. polars does not share the cast between its uses within one expression
    (measured: 5 casts, over half the cost), so a caller on a large frame passes ``n``, the
    cast computed once as a column (:func:`gtin_number`)."""
    n = gtin_number(col) if n is None else n
    digits = one_of(col.str.len_bytes(), [8, 12, 13, 14]) & n.is_not_null() & ~col.str.starts_with("+")
    bad = ~digits | ~_gs1_ok(n)
    if rule.prefixes:
        # The 13-digit form is the value left-padded to 14 digits, minus its first digit:
        # n % 10^13, whose banned prefixes are ranges of values.
        thirteen = n % 10**13
        bad = bad | pl.any_horizontal([thirteen.is_between(lo, hi, closed="left")
                                       for lo, hi in _prefix_ranges(rule.prefixes)])
    return bad


def holds(field: str, values: list[str]) -> pl.Expr:
    """The condition of ``required_if``: the field's trimmed, lower-cased value is listed."""
    wanted = [v.strip().lower() for v in values]
    return one_of(pl.col(field).str.strip_chars().str.to_lowercase(), wanted).fill_null(False)


def _holds(conditions: dict[str, list[str]], columns: set[str]) -> list[pl.Expr]:
    return [holds(name, values) if name in columns else pl.lit(False) for name, values in conditions.items()]


def compare(left: pl.Expr, op: str, right: pl.Expr) -> pl.Expr:
    return {"<": left < right, "<=": left <= right, "==": left == right, "!=": left != right,
            ">=": left >= right, ">": left > right}[op]


#: Kinds whose failure already implies a present value (a missing value is not a decimal).
IMPLIES_PRESENT = frozenset({"range", "compare"})


def fails(rule: Rule, columns: set[str], *, masked: bool = True, null_fails: bool = False) -> pl.Expr:
    """True where ``rule`` fails; never null. With ``masked=False`` (not for ``required``/``required_if``/``unique``), a missing value
    is not excused: a superset of the failures (see :mod:`.candidates`); ``null_fails``
    then counts a null value as failing too."""
    if rule.kind == "required_if":
        cond = pl.all_horizontal(_holds(rule.when or {}, columns))
        if rule.unless:
            cond = cond & ~pl.any_horizontal(_holds(rule.unless, columns))
        if rule.field not in columns:
            absent = pl.lit(True)
        else:
            absent = missing(pl.col(rule.field))
        return (cond & absent).fill_null(False)
    if rule.field not in columns:
        return pl.lit(rule.kind == "required")
    col = pl.col(rule.field)
    if not masked or rule.kind in IMPLIES_PRESENT:
        present = pl.lit(True)
    else:
        present = ~missing(col)
    match rule.kind:
        case "required":
            return ~present
        case "type":
            bad = ~col.str.contains(TYPE_PATTERNS[rule.type or "decimal"])
            if rule.type == "date":
                bad = bad | col.str.strptime(pl.Date, "%Y-%m-%d", strict=False).is_null()
        case "range":
            bad = ~in_range(number(col), rule)  # null (not a number) -> passes: see type
        case "decimal_range":  # ruleset v1 form: a decimal format check and a range in one rule
            bad = ~col.str.contains(r"^[0-9]+(\.[0-9]+)?$") | ~in_range(col.cast(pl.Float64, strict=False), rule)
        case "length":
            chars = col.str.len_chars()
            bad = pl.lit(False)
            if rule.min is not None:
                bad = bad | (chars < int(rule.min))
            if rule.max is not None:
                bad = bad | (chars > int(rule.max))
        case "enum":
            bad = ~one_of(col, rule.values or [])
        case "regex":
            bad = ~col.str.contains(f"^(?:{rule.pattern})$")
        case "https_url":
            bad = ~col.str.contains(HTTPS_URL)
        case "gtin":
            bad = gtin_bad(col, rule)
        case "unique":
            bad = ~col.is_first_distinct()
            return (present & bad).fill_null(False)
        case "compare":
            if rule.other not in columns:
                return pl.lit(False)
            bad = ~compare(number(col), rule.op or "<=", number(pl.col(rule.other)))  # null -> skip
        case _:  # pragma: no cover - guarded by the Rule model
            raise ValueError(rule.kind)
    return (present & bad.fill_null(null_fails)).fill_null(False)


def number_text(value: float) -> str:
    """A bound as the ruleset wrote it: ``3`` stays ``3``, ``3.0`` stays ``3.0``, ``0.5`` is ``0.5``."""
    return str(value)


def message(rule: Rule) -> str:
    """The human sentence for a failure of ``rule``, naming only the checks it applies."""
    if rule.message:
        return rule.message
    f = rule.field
    bounds = []
    if rule.min is not None:
        bounds.append(f"{'>' if rule.min_exclusive else '>='} {number_text(rule.min)}")
    if rule.max is not None:
        bounds.append(f"{'<' if rule.max_exclusive else '<='} {number_text(rule.max)}")
    match rule.kind:
        case "required":
            return f"{f} is required"
        case "type":
            return f"{f} must be {'an' if rule.type == 'integer' else 'a'} {rule.type}" + (
                " (YYYY-MM-DD)" if rule.type == "date" else "")
        case "range" | "decimal_range":
            return f"{f} must be a number {' and '.join(bounds)}"
        case "length":
            parts = []
            if rule.min is not None:
                parts.append(f"at least {number_text(rule.min)}")
            if rule.max is not None:
                parts.append(f"at most {number_text(rule.max)}")
            return f"{f} must have {' and '.join(parts)} characters"
        case "enum":
            return f"{f} must be one of {', '.join(rule.values or [])}"
        case "regex":
            return f"{f} has an invalid format"
        case "https_url":
            return f"{f} must be an https URL"
        case "gtin":
            checks = f"{f} must be 8, 12, 13 or 14 digits with a valid GS1 check digit"
            if not rule.prefixes:
                return checks
            if rule.banned_prefixes is None:
                return checks + " and no coupon prefix"
            return checks + f" and no prefix {', '.join(rule.prefixes)}"
        case "unique":
            return f"{f} repeats an earlier record's value"
        case "compare":
            return f"{f} must be {rule.op} {rule.other}"
        case "required_if":
            return f"{f} is required here"
    return f"{f} fails {rule.kind}"  # pragma: no cover
