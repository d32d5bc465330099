"""Anonymising a case's text for the library, and checking a text for what identifies someone."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Weights and check characters of the 18-digit citizen ID (GB 11643-1999, ISO 7064 MOD 11-2).
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECKS = "10X98765432"
# Digits that may be split by spaces, dots or dashes, as people write phone numbers.
_DIGIT_RUN = re.compile(r"(?<![0-9])\+?[0-9](?:[ .\-]?[0-9Xx]){6,19}(?![0-9])")
_MOBILE = re.compile(r"^(?:0{0,2}86)?1[3-9][0-9]{9}$")
_LANDLINE = re.compile(r"^0[1-9][0-9]{1,2}[0-9]{7,8}$")
_AMOUNT = re.compile(r"(?<![0-9.])([0-9][0-9,]*(?:\.[0-9]+)?)\s*(万元|万|元)")
_ADDRESS = re.compile(r"[\u4e00-\u9fff]{1,12}(?:路|街|大道|巷)[0-9]{1,5}(?:号|栋|弄)")
_FULL_WIDTH = {
    **{code: unicodedata.normalize("NFKC", chr(code)) for code in range(0xFF10, 0xFF1A)},
    **{code: unicodedata.normalize("NFKC", chr(code)) for code in range(0xFF21, 0xFF3B)},
    **{code: unicodedata.normalize("NFKC", chr(code)) for code in range(0xFF41, 0xFF5B)},
    0xFF0B: "+",
    0xFF0D: "-",
    0x3000: " ",
}
# Words that lead into a place and stay when the place is replaced: 住, 在, 位于.
_LEADS = "住在于到至"
PHONE_MARK = "[电话已隐去]"
ID_MARK = "[身份证号已隐去]"
PLACE_MARK = "某地"
# Bounds in yuan of the ranges an amount is told as, with their words.
RANGES: tuple[tuple[int, str], ...] = (
    (1_000, "一千元以下"),
    (10_000, "一千元至一万元"),
    (50_000, "一万元至五万元"),
    (100_000, "五万元至十万元"),
    (500_000, "十万元至五十万元"),
)
TOP_RANGE = "五十万元以上"


@dataclass(frozen=True)
class Leak:
    """One thing a text must not hold: what it is, and where it starts."""

    what: str
    at: int


def normalised(text: str) -> str:
    """Fold full-width digits, letters and spaces to plain ones, so they are checked alike.

    Only those: Chinese punctuation (，（）) stays as it was written.
    """
    return text.translate(_FULL_WIDTH)


def _digits(candidate: str) -> str:
    return "".join(ch for ch in candidate if ch.isdigit() or ch in "Xx")


def is_citizen_id(digits: str) -> bool:
    """Return whether 18 characters are a citizen ID whose check digit is right."""
    if len(digits) != 18 or not digits[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:17], ID_WEIGHTS, strict=True))
    return ID_CHECKS[total % 11] == digits[17].upper()


def is_phone(digits: str) -> bool:
    """Return whether a run of digits is a mainland mobile or landline number."""
    return "X" not in digits.upper() and bool(_MOBILE.match(digits) or _LANDLINE.match(digits))


def shaped_leaks(text: str) -> list[Leak]:
    """Return everything in a text shaped like a phone number or a citizen ID."""
    found: list[Leak] = []
    for match in _DIGIT_RUN.finditer(normalised(text)):
        digits = _digits(match.group())
        # Letters X written straight after a number are words, not its check character.
        core = digits.rstrip("Xx")
        if len(digits) > 18 and len(core) in (17, 18):
            digits = core if len(core) == 18 else core + "X"
        if is_citizen_id(digits):
            found.append(Leak("citizen ID number", match.start()))
        elif is_phone(digits):
            found.append(Leak("phone number", match.start()))
    return found


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", normalised(text)).casefold()


def value_leaks(text: str, values: Iterable[str]) -> list[int]:
    """Return the places, in `values`, of the personal values a text still holds.

    Spaces, letter case and full-width forms are no disguise.
    """
    plain = _squeezed(text)
    held = []
    for index, value in enumerate(values):
        needle = _squeezed(value)
        # A one-character value (a surname alone) would match everywhere: it says nothing.
        if len(needle) >= 2 and needle in plain:
            held.append(index)
    return held


def amount_range(yuan: float) -> str:
    """Return the words of the range an amount in yuan lies in."""
    for bound, words in RANGES:
        if yuan < bound:
            return words
    return TOP_RANGE


def fen_range(fen: int) -> str:
    """Return the words of the range an amount in fen lies in."""
    return amount_range(fen / 100)


def _amount(match: re.Match[str]) -> str:
    number = float(match.group(1).replace(",", ""))
    yuan = number * 10_000 if match.group(2).startswith("万") else number
    return amount_range(yuan)


def _place(match: re.Match[str]) -> str:
    found = match.group()
    lead = found[0] if found[0] in _LEADS else ""
    return lead + PLACE_MARK


def _shapes_hidden(text: str) -> str:
    def hide(match: re.Match[str]) -> str:
        digits = _digits(match.group())
        if is_citizen_id(digits):
            return ID_MARK
        if is_phone(digits):
            return PHONE_MARK
        return match.group()

    return _DIGIT_RUN.sub(hide, text)


def anonymise(text: str, roles: Mapping[str, str]) -> str:
    """Replace the named values by their roles, and numbers, places and amounts by ranges.

    `roles` maps each personal value (a name, a phone, an employer, a place) to the words
    that stand for it: 申请人, 某公司. Longer values go first so no part of one is left.
    """
    out = normalised(text)
    for value in sorted(roles, key=len, reverse=True):
        needle = normalised(value).strip()
        if needle:
            out = re.sub(re.escape(needle), roles[value], out, flags=re.IGNORECASE)
    out = _shapes_hidden(out)
    out = _ADDRESS.sub(_place, out)
    return _AMOUNT.sub(_amount, out)
