"""The calculator plugin: a whitelisted evaluator with resource limits, and unit conversion."""

from __future__ import annotations

import math
from typing import Any

import pytest

from plugyard.core.config import parse_config
from plugyard.core.host import PluginHost
from plugyard.plugins import calculator
from plugyard.plugins.calculator import (
    MAX_EXPRESSION,
    Calculation,
    CalculationError,
    Conversion,
    UnitError,
    convert,
    evaluate,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- calculate ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 % 3", 2),
        ("2 ** 10", 1024),
        ("2 ** -2", 0.25),
        ("-3 ** 2", -9),
        ("+-+4", -4),
        ("1.5e3 + .5", 1500.5),
        ("0x10 + 0b11", 19),
        ("sqrt(16)", 4.0),
        ("log(e)", 1.0),
        ("log(8, 2)", 3.0),
        ("log10(1000) + log2(8)", 6.0),
        ("exp(0)", 1.0),
        ("sin(pi / 2) + cos(0) + tan(0)", 2.0),
        ("floor(2.7) + ceil(2.1)", 5),
        ("factorial(10)", 3628800),
        ("abs(-3) + round(2.567, 2)", 5.57),
        ("round(2.5)", 2),
        ("min(4, 2, 8) + max(4, 2, 8)", 10),
        ("tau / 2 - pi", 0.0),
        ("degrees(pi)", 180.0),
        ("hypot(3, 4)", 5.0),
        ("gcd(12, 18) + lcm(4, 6)", 18),
        ("3 \u00d7 4 \u2212 10 \u00f7 5", 10.0),  # typographic times, minus, divide
        ("2 ** 100", 2**100),
    ],
)
def test_allowed_arithmetic_evaluates_like_python(expression: str, value: float) -> None:
    result = evaluate(expression)
    assert result == pytest.approx(value)
    assert type(result) is type(value)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os')", "__import__() is not an allowed function"),
        ("__import__('os').system('true')", "attributes such as"),
        ("open('/etc/passwd')", "open() is not an allowed function"),
        ("x + 1", "unknown name 'x'"),
        ("math.pi", "write pi"),
        ("math.sqrt(2)", "write sqrt(...)"),
        ("(1).__class__", "attributes"),
        ("'a' * 3", "str values are not allowed"),
        ("b'a'", "bytes values are not allowed"),
        ("True + 1", "bool values are not allowed"),
        ("None", "NoneType values are not allowed"),
        ("2j", "complex numbers are not allowed"),
        ("[1, 2]", "List expressions are not allowed"),
        ("[x for x in range(3)]", "ListComp expressions are not allowed"),
        ("lambda: 1", "Lambda expressions are not allowed"),
        ("(lambda: 1)()", "only functions can be called by name"),
        ("1 if 1 else 2", "IfExp expressions are not allowed"),
        ("1 < 2", "Compare expressions are not allowed"),
        ("{1: 2}[1]", "Subscript expressions are not allowed"),
        ("2 ^ 3", "use ** for powers"),
        ("1 << 10000", "operator << is not allowed"),
        ("~1", "unary operator Invert is not allowed"),
        ("not 1", "unary operator Not is not allowed"),
        ("1,000", "write 1000, not 1,000"),
        ("sqrt(x=4)", "positional arguments only"),
        ("max(*[1, 2])", "positional arguments only"),
        ("sqrt", "sqrt is a function"),
        ("1 +", "is not a valid expression"),
        ("x = 1", "is not a valid expression"),
        ("   ", "empty"),
    ],
)
def test_everything_outside_the_whitelist_is_refused_with_a_clear_error(expression: str, message: str) -> None:
    with pytest.raises(CalculationError) as caught:
        evaluate(expression)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("9**9**9", "too large"),
        ("2 ** 5000", "too large"),
        ("(10 ** 1000) ** 2", "too large"),
        ("10 ** 1000 * 10 ** 1000", "too large"),
        ("factorial(501)", "the limit is factorial(500)"),
        ("factorial(10 ** 100)", "the limit is factorial(500)"),
        ("factorial(-1)", "non-negative"),
        ("factorial(2.5)", "whole number"),
        ("exp(1000)", "overflow"),
        ("10.0 ** 400", "overflow"),
        ("1e308 * 10", "overflow"),
        ("sqrt(10 ** 400)", "overflow"),
        ("(-8) ** (1 / 3)", "not a real number"),
        ("1 / 0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("0 ** -1", "division by zero"),
        ("log(0)", "log(0): math domain error"),
        ("sqrt(-1)", "sqrt(-1): math domain error"),
        ("sqrt(1, 2)", "sqrt(1, 2)"),
        ("round(1.5, 0.5)", "whole number of digits"),
        ("-" * 600 + "1", "nested more than"),
    ],
)
def test_results_that_would_exhaust_resources_or_are_undefined_are_refused(expression: str, message: str) -> None:
    with pytest.raises(CalculationError) as caught:
        evaluate(expression)
    assert message in str(caught.value)


def test_a_huge_power_is_refused_before_it_is_computed() -> None:
    # The refusal names the power it estimated, 9 ** 387420489: a number never built (it would
    # have 370 million digits), so the estimate, not the computation, is what stopped it.
    with pytest.raises(CalculationError, match=r"9 \*\* 387420489 is too large"):
        evaluate("9**9**9**9")


def test_the_largest_allowed_integers_are_exact() -> None:
    assert evaluate("factorial(500)") == math.factorial(500)
    assert evaluate("10 ** 1233") == 10**1233


def test_a_long_flat_sum_is_not_mistaken_for_deep_nesting() -> None:
    assert evaluate("+".join(["1"] * 499)) == 499


def test_expressions_longer_than_the_limit_are_refused() -> None:
    evaluate("1" + "+1" * ((MAX_EXPRESSION - 1) // 2))
    with pytest.raises(CalculationError, match="limit is 1000"):
        evaluate("1" + "+1" * (MAX_EXPRESSION // 2))


def test_calculation_text_hides_binary_floating_point_noise() -> None:
    result = calculator.calculate("0.1 + 0.2")
    assert result.result == 0.1 + 0.2
    assert result.text == "0.3"
    assert calculator.calculate("2 ** 70").text == str(2**70)


# -- convert_units --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (100, "C", "F", 212.0),
        (-40, "°F", "celsius", -40.0),
        (0, "K", "°C", -273.15),
        (32, "fahrenheit", "kelvin", 273.15),
        (1, "mi", "km", 1.609344),
        (12, "inches", "ft", 1.0),
        (1, "nautical mile", "m", 1852.0),
        (1, "kg", "lb", 2.2046226218),
        (16, "oz", "pounds", 1.0),
        (90, "minutes", "h", 1.5),
        (1, "week", "days", 7.0),
        (1, "GiB", "MiB", 1024.0),
        (1, "GB", "GiB", 0.9313225746),
        (1, "B", "bit", 8.0),
        (100, "Mbit", "MB", 12.5),
        (2048, "KiB", "mebibytes", 2.0),
        (60, "mph", "km/h", 96.56064),
        (10, "m/s", "km/h", 36.0),
        (1, "ha", "acre", 2.4710538147),
        (1, "sq ft", "in²", 144.0),
        (1, "gal", "L", 3.785411784),
        (1, "L", "mL", 1000.0),
        (1, "cup", "tbsp", 16.0),
        (1, "m³", "litres", 1000.0),
        (5, " Kilometers ", "MILES", 3.1068559612),
    ],
)
def test_units_convert_within_each_dimension(value: float, source: str, target: str, expected: float) -> None:
    assert convert(value, source, target).result == pytest.approx(expected)


def test_a_conversion_names_canonical_units_and_reads_as_a_sentence() -> None:
    result = convert(5, "kilometres", "miles")
    assert (result.from_unit, result.to_unit, result.dimension) == ("km", "mi", "length")
    assert result.text == "5 km = 3.106855961 mi"


def test_incompatible_units_are_refused_listing_the_units_of_that_dimension() -> None:
    with pytest.raises(UnitError) as caught:
        convert(1, "kg", "m")
    message = str(caught.value)
    assert "cannot convert kg (mass) to m (length)" in message
    assert "units of mass are: kg, g, mg, µg, t, lb, oz, st" in message


def test_an_unknown_unit_lists_the_units_of_the_other_units_dimension() -> None:
    with pytest.raises(UnitError, match=r"unknown unit 'fet' \(did you mean 'feet'.*units of length are: m, km"):
        convert(1, "m", "fet")


def test_two_unknown_units_list_every_supported_dimension() -> None:
    with pytest.raises(UnitError) as caught:
        convert(1, "furlong", "fortnight")
    message = str(caught.value)
    for dimension in ("length", "mass", "time", "data size", "speed", "area", "volume", "temperature"):
        assert f"{dimension}: " in message


def test_a_lower_case_b_data_unit_is_refused_as_ambiguous_between_bits_and_bytes() -> None:
    for unit in ("Mb", "kb", "gib", "b"):
        with pytest.raises(UnitError, match=f"'{unit}' is ambiguous"):
            convert(1, unit, "MB")
    assert convert(1, "kB", "B").result == 1000.0


def test_a_temperature_below_absolute_zero_is_refused() -> None:
    with pytest.raises(UnitError, match="below absolute zero"):
        convert(-500, "F", "C")


def test_a_conversion_that_overflows_is_refused() -> None:
    with pytest.raises(UnitError, match="too large"):
        convert(1e308, "PiB", "bit")


# -- through the host -----------------------------------------------------------------------


async def call(tool: str, arguments: dict[str, Any]) -> Any:
    host = PluginHost(parse_config({}), entry_points=False, plugins={"calculator": calculator})
    async with host.running():
        return await host.call_tool(tool, arguments)


@pytest.mark.anyio
async def test_calculate_through_the_host_returns_a_structured_result() -> None:
    outcome = await call("calculate", {"expression": "sqrt(2) ** 2"})
    assert outcome.success, outcome.error_message
    assert isinstance(outcome.result, Calculation)
    assert outcome.result.result == pytest.approx(2.0)
    assert outcome.result.text == "2"


@pytest.mark.anyio
async def test_a_refused_expression_through_the_host_is_a_failed_call_with_the_reason() -> None:
    outcome = await call("calculate", {"expression": "__import__('os')"})
    assert not outcome.success
    assert outcome.error_type == "CalculationError"
    assert "not an allowed function" in (outcome.error_message or "")


@pytest.mark.anyio
async def test_an_over_long_expression_is_rejected_by_the_schema() -> None:
    outcome = await call("calculate", {"expression": "1" * (MAX_EXPRESSION + 1)})
    assert outcome.error_type == "InvalidArguments"


@pytest.mark.anyio
async def test_convert_units_through_the_host_returns_a_structured_result() -> None:
    outcome = await call("convert_units", {"value": 212, "from_unit": "°F", "to_unit": "°C"})
    assert outcome.success, outcome.error_message
    assert isinstance(outcome.result, Conversion)
    assert outcome.result.result == pytest.approx(100.0)


@pytest.mark.anyio
async def test_convert_units_rejects_a_value_that_is_not_finite() -> None:
    outcome = await call("convert_units", {"value": float("nan"), "from_unit": "m", "to_unit": "km"})
    assert outcome.error_type == "InvalidArguments"


def test_both_tools_are_registered_read_only_idempotent_with_their_capabilities() -> None:
    host = PluginHost(parse_config({}), entry_points=False, plugins={"calculator": calculator}).load()
    for name in ("calculate", "convert_units"):
        tool = host.tools.get(name)
        assert tool is not None
        assert tool.capabilities == (name,)
        assert (tool.read_only, tool.idempotent) == (True, True)
    convert_tool = host.tools.get("convert_units")
    assert convert_tool is not None
    assert convert_tool.input_schema["required"] == ["value", "from_unit", "to_unit"]
