"""A safe arithmetic evaluator and a unit converter.

``calculate`` parses the expression with ``ast`` and walks a whitelist of node types, so no
name, attribute, subscript or call outside the table below can be reached. Integer results
are capped at MAX_INT_BITS and every power is estimated before it runs, so ``9**9**9`` is
refused in microseconds instead of exhausting memory.
"""

from __future__ import annotations

import ast
import difflib
import math
import operator
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, Field

from plugyard import hookimpl

MAX_EXPRESSION = 1000
MAX_INT_BITS = 4096  # about 1233 decimal digits
MAX_FACTORIAL = 500  # 500! has 1135 digits, within MAX_INT_BITS
# A flat sum of 500 terms nests 500 deep; deeper would near Python's recursion limit of 1000.
MAX_DEPTH = 500

Number = int | float


class CalculationError(ValueError):
    """The expression is not allowed, or cannot be evaluated."""


class UnitError(ValueError):
    """A unit is unknown, or the two units measure different things."""


class Calculation(BaseModel):
    expression: str
    result: int | float
    text: str = Field(description="The result as text: exact for integers, 15 significant digits for decimals.")


class Conversion(BaseModel):
    value: float
    from_unit: str = Field(description="The canonical symbol of the unit converted from.")
    to_unit: str = Field(description="The canonical symbol of the unit converted to.")
    dimension: str
    result: float
    text: str


# -- calculate ----------------------------------------------------------------------------


def _factorial(n: Number) -> int:
    if isinstance(n, float):
        if not n.is_integer():
            raise CalculationError(f"factorial() needs a whole number, got {n!r}")
        n = int(n)
    if n < 0:
        raise CalculationError(f"factorial() needs a non-negative number, got {n}")
    if n > MAX_FACTORIAL:
        raise CalculationError(f"factorial({n}) is too large: the limit is factorial({MAX_FACTORIAL})")
    return math.factorial(n)


def _round(x: Number, ndigits: Number | None = None) -> Number:
    if ndigits is None:
        return round(x)
    if isinstance(ndigits, float) and not ndigits.is_integer():
        raise CalculationError(f"round() needs a whole number of digits, got {ndigits!r}")
    return round(x, int(ndigits))


def _pow(base: Number, exponent: Number) -> Number:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        # Estimate the result's size before computing it: int ** int is exact and unbounded.
        if exponent * math.log2(abs(base)) > MAX_INT_BITS:
            raise CalculationError(
                f"{base} ** {exponent} is too large: results are limited to about {MAX_INT_BITS} bits "
                f"({int(MAX_INT_BITS * math.log10(2))} digits)"
            )
    return base**exponent


FUNCTIONS: dict[str, Callable[..., Number]] = {
    "sqrt": math.sqrt, "exp": math.exp, "log": math.log, "log10": math.log10, "log2": math.log2,
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "asin": math.asin, "acos": math.acos,
    "atan": math.atan, "atan2": math.atan2, "sinh": math.sinh, "cosh": math.cosh, "tanh": math.tanh,
    "degrees": math.degrees, "radians": math.radians, "hypot": math.hypot,
    "floor": math.floor, "ceil": math.ceil, "trunc": math.trunc, "gcd": math.gcd, "lcm": math.lcm,
    "factorial": _factorial, "abs": abs, "round": _round, "min": min, "max": max,
}  # fmt: skip
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: _pow,
}  # fmt: skip
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_SYMBOLS: dict[type[ast.operator], str] = {
    ast.BitXor: "^",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.MatMult: "@",
}


def _checked(value: object) -> Number:
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, complex):
            raise CalculationError("the result is not a real number (e.g. a fractional power of a negative number)")
        raise CalculationError(f"the result is not a number: {value!r}")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise CalculationError(f"the result is too large: results are limited to about {MAX_INT_BITS} bits")
    if isinstance(value, float) and not math.isfinite(value):
        raise CalculationError(
            "the result is too large to represent (overflow)"
            if math.isinf(value)
            else "the result is not a number (NaN)"
        )
    return value


def _eval(node: ast.AST, depth: int) -> Number:
    # Operators recurse here, in one frame per level, so a long flat sum stays within the stack.
    if depth > MAX_DEPTH:
        raise CalculationError(f"the expression is nested more than {MAX_DEPTH} levels deep")
    if isinstance(node, ast.BinOp):
        binary = _binary_operator(node)
        return _checked(binary(_eval(node.left, depth + 1), _eval(node.right, depth + 1)))
    if isinstance(node, ast.UnaryOp):
        return _checked(_unary_operator(node)(_eval(node.operand, depth + 1)))
    if isinstance(node, ast.Call):
        return _call(node, depth)
    return _leaf(node)


def _binary_operator(node: ast.BinOp) -> Callable[[Number, Number], Number]:
    op = _BINARY.get(type(node.op))
    if op is None:
        symbol = _SYMBOLS.get(type(node.op), type(node.op).__name__)
        hint = "; use ** for powers" if symbol == "^" else ""
        raise CalculationError(f"the operator {symbol} is not allowed (allowed: + - * / // % **){hint}")
    return op


def _unary_operator(node: ast.UnaryOp) -> Callable[[Number], Number]:
    unary = _UNARY.get(type(node.op))
    if unary is None:
        raise CalculationError(f"the unary operator {type(node.op).__name__} is not allowed (only + and -)")
    return unary


def _leaf(node: ast.AST) -> Number:
    """A number or a constant's name; anything else is refused, saying what to write instead."""
    if isinstance(node, ast.Constant):
        if type(node.value) in (int, float):
            return _checked(node.value)
        kind = "complex numbers" if isinstance(node.value, complex) else f"{type(node.value).__name__} values"
        raise CalculationError(f"{kind} are not allowed: only numbers, operators and math functions")
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id in FUNCTIONS:
            raise CalculationError(f"{node.id} is a function: call it, as in {node.id}(2)")
        raise CalculationError(f"unknown name {node.id!r}: the constants are {', '.join(CONSTANTS)}")
    if isinstance(node, ast.Attribute):
        name = node.attr
        instead = f"; write {name}(...)" if name in FUNCTIONS else f"; write {name}" if name in CONSTANTS else ""
        raise CalculationError(f"attributes such as {ast.unparse(node)!r} are not allowed{instead}")
    if isinstance(node, ast.Tuple):
        raise CalculationError("commas are only allowed between function arguments (write 1000, not 1,000)")
    raise CalculationError(
        f"{type(node).__name__} expressions are not allowed: only numbers, operators and math functions"
    )


def _call(node: ast.Call, depth: int) -> Number:
    if isinstance(node.func, ast.Attribute):
        _eval(node.func, depth + 1)  # raises, with a hint for math.sqrt(...) and the like
    name = node.func.id if isinstance(node.func, ast.Name) else None
    if name is None or name not in FUNCTIONS:
        what = f"{name}() is not an allowed function" if name else "only functions can be called by name"
        raise CalculationError(f"{what}; the functions are: {', '.join(sorted(FUNCTIONS))}")
    if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
        raise CalculationError(f"{name}() takes plain positional arguments only")
    args = [_eval(a, depth + 1) for a in node.args]
    try:
        return _checked(FUNCTIONS[name](*args))
    except CalculationError:
        raise
    except (TypeError, ValueError) as exc:
        raise CalculationError(f"{name}({', '.join(map(_text, args))}): {exc}") from None


def _text(value: Number) -> str:
    return str(value) if isinstance(value, int) else format(value, ".15g")


def evaluate(expression: str) -> Number:
    """Evaluate an arithmetic expression safely; raises CalculationError for anything else."""
    if len(expression) > MAX_EXPRESSION:
        raise CalculationError(f"the expression is {len(expression)} characters long; the limit is {MAX_EXPRESSION}")
    # Accept the typographic times, divide and minus signs people paste from documents.
    source = expression.strip().translate(str.maketrans("\u00d7\u00f7\u2212", "*/-"))
    if not source:
        raise CalculationError("the expression is empty")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise CalculationError(f"{expression!r} is not a valid expression{where}: {exc.msg}") from None
    try:
        return _eval(tree.body, 0)
    except ZeroDivisionError:
        raise CalculationError(f"division by zero in {expression!r}") from None
    except OverflowError:
        raise CalculationError(f"the result of {expression!r} is too large to represent (overflow)") from None
    except RecursionError:
        raise CalculationError("the expression is nested too deeply") from None


def calculate(
    expression: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_EXPRESSION,
            description="An arithmetic expression, e.g. 'sqrt(2) * 3**2'.",
        ),
    ],
) -> Calculation:
    """Evaluate an arithmetic expression exactly as Python would, safely.

    Allowed: numbers, + - * / // % ** (power; ^ is refused), parentheses, the constants pi, e
    and tau, and the functions sqrt, exp, log (log(x) is natural, log(x, base)), log10, log2,
    sin, cos, tan, asin, acos, atan, atan2, sinh, cosh, tanh (radians), degrees, radians,
    hypot, floor, ceil, trunc, gcd, lcm, factorial (up to 500), abs, round, min, max.
    Integers are exact (up to about 1200 digits); decimals are double precision.
    Use this rather than mental arithmetic for anything beyond trivial sums.
    """
    result = evaluate(expression)
    return Calculation(expression=expression, result=result, text=_text(result))


# -- convert_units ------------------------------------------------------------------------

# Factors to the SI base unit of each dimension (metre, kilogram, second, byte, m/s, m², m³),
# each with its accepted spellings. Temperature is affine, so it is handled apart.
# fmt: off
_TABLE: dict[str, dict[str, tuple[float, tuple[str, ...]]]] = {
    "length": {
        "m": (1.0, ("meter", "meters", "metre", "metres")),
        "km": (1e3, ("kilometer", "kilometers", "kilometre", "kilometres")),
        "cm": (1e-2, ("centimeter", "centimeters", "centimetre", "centimetres")),
        "mm": (1e-3, ("millimeter", "millimeters", "millimetre", "millimetres")),
        "µm": (1e-6, ("um", "μm", "micrometer", "micrometers", "micron", "microns")),
        "nm": (1e-9, ("nanometer", "nanometers", "nanometre", "nanometres")),
        "in": (0.0254, ("inch", "inches")),
        "ft": (0.3048, ("foot", "feet")),
        "yd": (0.9144, ("yard", "yards")),
        "mi": (1609.344, ("mile", "miles")),
        "nmi": (1852.0, ("nautical mile", "nautical miles")),
    },
    "mass": {
        "kg": (1.0, ("kilogram", "kilograms", "kilo", "kilos")),
        "g": (1e-3, ("gram", "grams")),
        "mg": (1e-6, ("milligram", "milligrams")),
        "µg": (1e-9, ("ug", "μg", "mcg", "microgram", "micrograms")),
        "t": (1e3, ("tonne", "tonnes", "metric ton", "metric tons")),
        "lb": (0.45359237, ("lbs", "pound", "pounds")),
        "oz": (0.028349523125, ("ounce", "ounces")),
        "st": (6.35029318, ("stone", "stones")),
    },
    "time": {
        "s": (1.0, ("sec", "secs", "second", "seconds")),
        "ms": (1e-3, ("millisecond", "milliseconds")),
        "µs": (1e-6, ("us", "μs", "microsecond", "microseconds")),
        "ns": (1e-9, ("nanosecond", "nanoseconds")),
        "min": (60.0, ("mins", "minute", "minutes")),
        "h": (3600.0, ("hr", "hrs", "hour", "hours")),
        "day": (86400.0, ("d", "days")),
        "week": (604800.0, ("wk", "weeks")),
        "year": (31557600.0, ("yr", "yrs", "years")),  # Julian year: 365.25 days
    },
    "data size": {
        "bit": (0.125, ("bits",)),
        "B": (1.0, ("byte", "bytes")),
        "KB": (1e3, ("kB", "kilobyte", "kilobytes")), "KiB": (1024.0, ("kibibyte", "kibibytes")),
        "MB": (1e6, ("megabyte", "megabytes")), "MiB": (1024.0**2, ("mebibyte", "mebibytes")),
        "GB": (1e9, ("gigabyte", "gigabytes")), "GiB": (1024.0**3, ("gibibyte", "gibibytes")),
        "TB": (1e12, ("terabyte", "terabytes")), "TiB": (1024.0**4, ("tebibyte", "tebibytes")),
        "PB": (1e15, ("petabyte", "petabytes")), "PiB": (1024.0**5, ("pebibyte", "pebibytes")),
        "kbit": (1e3 / 8, ("kilobit", "kilobits")), "Mbit": (1e6 / 8, ("megabit", "megabits")),
        "Gbit": (1e9 / 8, ("gigabit", "gigabits")),
    },
    "speed": {
        "m/s": (1.0, ("mps", "meters per second", "metres per second")),
        "km/h": (1 / 3.6, ("kph", "kmh", "kilometers per hour", "kilometres per hour")),
        "mph": (0.44704, ("mi/h", "miles per hour")),
        "ft/s": (0.3048, ("fps", "feet per second")),
        "kn": (1852 / 3600, ("kt", "knot", "knots")),
    },
    "area": {
        "m²": (1.0, ("m2", "m^2", "sq m", "square meter", "square meters", "square metre", "square metres")),
        "km²": (1e6, ("km2", "km^2", "sq km", "square kilometer", "square kilometers")),
        "cm²": (1e-4, ("cm2", "cm^2", "sq cm", "square centimeter", "square centimeters")),
        "mm²": (1e-6, ("mm2", "mm^2", "sq mm")),
        "ha": (1e4, ("hectare", "hectares")),
        "acre": (4046.8564224, ("acres", "ac")),
        "ft²": (0.09290304, ("ft2", "ft^2", "sq ft", "square foot", "square feet")),
        "in²": (0.00064516, ("in2", "in^2", "sq in", "square inch", "square inches")),
        "yd²": (0.83612736, ("yd2", "yd^2", "sq yd", "square yard", "square yards")),
        "mi²": (2589988.110336, ("mi2", "mi^2", "sq mi", "square mile", "square miles")),
    },
    "volume": {
        "m³": (1.0, ("m3", "m^3", "cubic meter", "cubic meters", "cubic metre", "cubic metres")),
        "L": (1e-3, ("l", "liter", "liters", "litre", "litres")),
        "mL": (1e-6, ("ml", "cm3", "cm³", "cc", "milliliter", "milliliters", "millilitre", "millilitres")),
        "gal": (3.785411784e-3, ("gallon", "gallons", "us gal")),
        "imp gal": (4.54609e-3, ("imperial gallon", "imperial gallons")),
        "qt": (9.46352946e-4, ("quart", "quarts")),
        "pt": (4.73176473e-4, ("pint", "pints")),
        "cup": (2.365882365e-4, ("cups",)),
        "fl oz": (2.95735295625e-5, ("floz", "fluid ounce", "fluid ounces")),
        "tbsp": (1.478676478125e-5, ("tablespoon", "tablespoons")),
        "tsp": (4.92892159375e-6, ("teaspoon", "teaspoons")),
        "ft³": (0.028316846592, ("ft3", "ft^3", "cubic foot", "cubic feet")),
        "in³": (1.6387064e-5, ("in3", "in^3", "cubic inch", "cubic inches")),
    },
}
_TEMPERATURE: dict[str, tuple[str, ...]] = {
    "°C": ("C", "degC", "celsius", "centigrade", "℃"),
    "°F": ("F", "degF", "fahrenheit", "℉"),
    "K": ("kelvin", "kelvins"),
}
# fmt: on


def _index() -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str] | None]]:
    """Every accepted spelling -> (dimension, canonical symbol), exact and case-folded."""
    exact: dict[str, tuple[str, str]] = {}
    for dimension, table in _TABLE.items():
        for symbol, (_, aliases) in table.items():
            exact |= dict.fromkeys((symbol, *aliases), (dimension, symbol))
    for symbol, aliases in _TEMPERATURE.items():
        exact |= dict.fromkeys((symbol, *aliases), ("temperature", symbol))
    folded: dict[str, tuple[str, str] | None] = {}
    for spelling, unit in exact.items():
        # None marks a folded spelling shared by two units: no case-insensitive guess for it.
        key = spelling.casefold()
        folded[key] = unit if folded.get(key, unit) == unit else None
    return exact, folded


_UNITS, _FOLDED = _index()


def _units_of(dimension: str) -> str:
    return ", ".join(_TEMPERATURE if dimension == "temperature" else _TABLE[dimension])


def _lookup(unit: str, other: str) -> tuple[str, str]:
    spelling = " ".join(unit.split())
    found = _UNITS.get(spelling)
    if found is None and (found := _FOLDED.get(spelling.casefold())) is not None:
        dimension, symbol = found
        if dimension == "data size" and spelling.endswith("b") and symbol.endswith("B"):
            # 'Mb' is megabits to most people but folds to MB: refuse to guess a factor of 8.
            raise UnitError(
                f"unit {unit!r} is ambiguous: write {symbol} for bytes, or bit, kbit, Mbit or Gbit for bits"
            )
    if found is not None:
        return found
    close = difflib.get_close_matches(spelling, list(_UNITS), n=3, cutoff=0.75)
    hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
    known = _UNITS.get(" ".join(other.split())) or _FOLDED.get(" ".join(other.split()).casefold())
    if known is not None:
        raise UnitError(f"unknown unit {unit!r}{hint}; units of {known[0]} are: {_units_of(known[0])}")
    dims = "; ".join(f"{d}: {_units_of(d)}" for d in [*_TABLE, "temperature"])
    raise UnitError(f"unknown unit {unit!r}{hint}; supported units are {dims}")


def _to_kelvin(value: float, symbol: str) -> float:
    return {"K": value, "°C": value + 273.15, "°F": (value - 32) * 5 / 9 + 273.15}[symbol]


def _from_kelvin(kelvin: float, symbol: str) -> float:
    return {"K": kelvin, "°C": kelvin - 273.15, "°F": (kelvin - 273.15) * 9 / 5 + 32}[symbol]


def convert(value: float, from_unit: str, to_unit: str) -> Conversion:
    """Convert ``value`` between two units of the same dimension; raises UnitError otherwise."""
    dim_from, src = _lookup(from_unit, to_unit)
    dim_to, dst = _lookup(to_unit, from_unit)
    if dim_from != dim_to:
        raise UnitError(
            f"cannot convert {src} ({dim_from}) to {dst} ({dim_to}); units of {dim_from} are: {_units_of(dim_from)}"
        )
    if dim_from == "temperature":
        kelvin = _to_kelvin(value, src)
        if kelvin < 0:
            raise UnitError(f"{value:g} {src} is below absolute zero (0 K, -273.15 °C, -459.67 °F)")
        result = _from_kelvin(kelvin, dst)
    else:
        result = value * _TABLE[dim_from][src][0] / _TABLE[dim_to][dst][0]
    if not math.isfinite(result):
        raise UnitError(f"{value:g} {src} in {dst} is too large to represent")
    text = f"{value:.10g} {src} = {result:.10g} {dst}"
    return Conversion(value=value, from_unit=src, to_unit=dst, dimension=dim_from, result=result, text=text)


def convert_units(
    value: Annotated[float, Field(allow_inf_nan=False, description="The amount to convert.")],
    from_unit: Annotated[str, Field(min_length=1, max_length=40, description="e.g. 'km', 'lb', '°F', 'MiB'.")],
    to_unit: Annotated[str, Field(min_length=1, max_length=40, description="A unit of the same dimension.")],
) -> Conversion:
    """Convert a value between units of length, mass, time, temperature (°C/°F/K), data size
    (bit, B, KB/MB/GB/TB/PB in powers of 1000, KiB/MiB/GiB/TiB/PiB in powers of 1024, kbit,
    Mbit, Gbit), speed (m/s, km/h, mph, ft/s, kn), area (m², km², ha, acre, ft², ...) and
    volume (L, mL, m³, US gal, imp gal, qt, pt, cup, fl oz, tbsp, tsp, ...).

    Symbols and names are both accepted ('km' or 'kilometers', 'F' or 'fahrenheit'); US
    customary units are used for gallons, quarts, pints and cups. Returns the result and a
    readable line such as '5 km = 3.106855961 mi'.
    """
    return convert(value, from_unit, to_unit)


@hookimpl
def register_tools(register: Callable[..., None]) -> None:
    register(calculate, capabilities=["calculate"], read_only=True, idempotent=True)
    register(convert_units, capabilities=["convert_units"], read_only=True, idempotent=True)
