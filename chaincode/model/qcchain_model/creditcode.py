"""The unified social credit code of an organisation (GB 32100-2015): 18 characters with a check character."""

from __future__ import annotations

import re
from typing import Any

from .errors import InvalidCreditCode

__all__ = ["CREDIT_CHARS", "CREDIT_WEIGHTS", "credit_check_char", "validate_credit_code"]

CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT = re.compile(r"^[1-9A-HJ-NP-RTUWXY][1-9A-HJ-NP-RTUWXY][0-9]{6}[0-9A-HJ-NP-RTUWXY]{10}$")


def credit_check_char(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters of a credit code. Pure."""
    total = sum(CREDIT_CHARS.index(ch) * w for ch, w in zip(first17, CREDIT_WEIGHTS))
    return CREDIT_CHARS[(31 - total % 31) % 31]


def validate_credit_code(code: Any) -> str:
    """Check an 18-character unified social credit code (GB 32100-2015) including its check character.

    Raises:
        InvalidCreditCode: wrong length, characters outside the code set (no I, O, S, V, Z), or a wrong check.
    """
    if not isinstance(code, str) or len(code) != 18:
        raise InvalidCreditCode("credit_code must be 18 characters (GB 32100)")
    if not _CREDIT.match(code):
        raise InvalidCreditCode("credit_code has characters outside the GB 32100 code set or a non-numeric area code")
    if code[17] != credit_check_char(code[:17]):
        raise InvalidCreditCode("credit_code has a wrong check character (GB 32100)")
    return code
