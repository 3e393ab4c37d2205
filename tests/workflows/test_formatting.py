"""Core-hours as the CLI and the report print them (workflows.formatting)."""

import math

import pytest

from workflows.formatting import significant


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.000654, "0.000654"),  # an MLIP calculation
        (0.0322, "0.0322"),  # a GPAW fast single point
        (1.99, "1.99"),
        (62.34, "62.3"),
        (1990.4, "1,990"),  # an exhaustive screen: no exponent
        (123456.0, "123,456"),
    ],
)
def test_three_significant_digits_without_exponent_from_100(value, text) -> None:
    assert significant(value) == text


def test_missing_values_print_the_placeholder() -> None:
    assert significant(None) == "–"
    assert significant(math.nan, "-") == "-"
