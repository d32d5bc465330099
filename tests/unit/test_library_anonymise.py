"""The anonymiser and its checks: phone numbers and citizen IDs found however they are written."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.library.anonymise import (
    ID_CHECKS,
    ID_WEIGHTS,
    amount_range,
    anonymise,
    is_citizen_id,
    shaped_leaks,
    value_leaks,
)
from services.library.drafting import EMPLOYER, WORKER, Facts, draft, roles_for

# Text with no digits at all: Chinese, Latin letters, punctuation and spaces.
WORDS = st.text(
    alphabet=st.characters(
        whitelist_categories=("Lo", "Ll", "Lu", "Zs", "Po"), blacklist_characters="0123456789"
    ),
    max_size=40,
).filter(lambda t: not any(ch.isdigit() for ch in t))
MOBILE = st.builds(
    lambda second, rest: f"1{second}{rest}",
    st.sampled_from("3456789"),
    st.text(alphabet="0123456789", min_size=9, max_size=9),
)


def with_check_digit(first17: str) -> str:
    """Complete 17 digits into a citizen ID with the right check character."""
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return first17 + ID_CHECKS[total % 11]


CITIZEN_ID = st.text(alphabet="0123456789", min_size=17, max_size=17).map(with_check_digit)


def spaced(number: str, style: int) -> str:
    """Write a mobile number as people do: plain, 3-4-4 with dashes or spaces, full-width."""
    if style == 1:
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"
    if style == 2:
        return f"{number[:3]} {number[3:7]} {number[7:]}"
    if style == 3:
        return "".join(chr(ord(c) + 0xFEE0) for c in number)
    if style == 4:
        return f"+86 {number}"
    return number


@given(WORDS, MOBILE, WORDS, st.integers(min_value=0, max_value=4))
def test_a_mobile_number_is_found_however_it_is_written(
    before: str, number: str, after: str, style: int
) -> None:
    leaks = shaped_leaks(f"{before}电话{spaced(number, style)}。{after}")
    assert [leak.what for leak in leaks] == ["phone number"]


@given(WORDS, CITIZEN_ID, WORDS)
def test_a_citizen_id_with_its_check_digit_is_found(before: str, number: str, after: str) -> None:
    assert is_citizen_id(number)
    leaks = shaped_leaks(f"{before}身份证号{number}{after}")
    assert [leak.what for leak in leaks] == ["citizen ID number"]


@given(CITIZEN_ID)
def test_an_id_with_a_wrong_check_digit_is_not_an_id(number: str) -> None:
    wrong = next(c for c in ID_CHECKS if c != number[-1])
    assert not is_citizen_id(number[:-1] + wrong)


@given(WORDS)
def test_text_without_digits_holds_no_number(text: str) -> None:
    assert shaped_leaks(text) == []


@given(st.integers(min_value=1, max_value=99_999))
def test_amounts_and_dates_are_not_mistaken_for_numbers(amount: int) -> None:
    assert shaped_leaks(f"2026年11月23日，拖欠工资{amount}元，第82条") == []


@given(WORDS, MOBILE, CITIZEN_ID)
def test_the_anonymised_text_holds_no_phone_and_no_id(words: str, number: str, pid: str) -> None:
    text = anonymise(f"{words}张三，电话{number}，身份证{pid}", {"张三": WORKER})
    assert shaped_leaks(text) == []
    assert "张三" not in text


def test_names_employers_places_and_amounts_become_roles_and_ranges() -> None:
    text = anonymise(
        "张小明在深圳市某某科技有限公司工作，住盐田路12号，公司拖欠工资12,500元和3.5万元。",
        {"张小明": WORKER, "深圳市某某科技有限公司": EMPLOYER},
    )
    assert text == (
        f"{WORKER}在{EMPLOYER}工作，住某地，公司拖欠工资一万元至五万元和一万元至五万元。"
    )


def test_a_value_is_found_through_spaces_case_and_full_width() -> None:
    values = ["张小明", "Acme Ltd", "13800138000"]
    assert value_leaks("据张 小 明说", values) == [0]
    assert value_leaks("ACME LTD 欠薪", values) == [1]
    assert value_leaks("电话１３８００１３８０００", values) == [2]
    assert value_leaks("申请人（职工）", values) == []


def test_a_single_character_says_nothing_and_is_not_a_leak() -> None:
    assert value_leaks("王某", ["王"]) == []


def test_ranges_have_edges() -> None:
    assert amount_range(999.99) == "一千元以下"
    assert amount_range(1000) == "一千元至一万元"
    assert amount_range(49_999) == "一万元至五万元"
    assert amount_range(500_000) == "五十万元以上"


def test_a_draft_names_nobody_and_tells_claims_as_ranges() -> None:
    roles = roles_for("李四", "13900139000", "盐田港某物流公司")
    title, text = draft(
        Facts(
            category="remuneration",
            outcome="performed",
            summary=None,
            texts=["李四（电话13900139000）在盐田港某物流公司工作两年，被拖欠三个月工资。"],
            claims=[("支付拖欠工资", 1_850_000)],
            agreed_fen=1_500_000,
            roles=roles,
        )
    )
    assert title == "劳动报酬争议典型案例"
    assert "李四" not in text and "盐田港某物流公司" not in text
    assert shaped_leaks(text) == [] and value_leaks(text, list(roles)) == []
    assert "支付拖欠工资（一万元至五万元）" in text
    assert "双方达成调解协议并已履行" in text
