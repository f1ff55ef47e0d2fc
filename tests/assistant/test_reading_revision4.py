"""Classes of error found on the fifth author's set (datasets/assist_blind6.jsonl), checked on messages that are
not in it, against a fixed today, per language."""

from __future__ import annotations

from datetime import date

import pytest

from plugyard.assistant.reading import read
from plugyard.assistant.reading.dates import deadline_of, strip_times

TODAY = date(2027, 3, 12)  # a Friday


@pytest.mark.parametrize(
    ("text", "deadline"),
    [
        # a month named alone after a digit (N2七月份, 第2七月 is no case): its 1st day, the next one
        ("托福和N1七月份都要考", "2027-07-01"),
        ("HSK5 九月考，还没开始准备", "2027-09-01"),
        ("CET4 6月份考试", "2027-06-01"),
        ("N2 2月考", "2028-02-01"),
        # spaces between the digits and 年/月/日/号
        ("雅思定在 5 月 20 日", "2027-05-20"),
        ("2027 年 11 月 3 号交报告", "2027-11-03"),
        ("下个月 8 号之前要交", "2027-04-08"),
        ("答辩在 6 月份", "2027-06-01"),
        # a month's end named with the month: that month's last day
        ("十二月底前要搬完家", "2027-12-31"),
        ("2月底要交", "2028-02-29"),
        ("明年1月底", "2028-01-31"),
        ("月底前交", "2027-03-31"),
        ("下个月底上线", "2027-04-30"),
    ],
)
def test_chinese_months_and_spaced_dates(text, deadline):
    found = deadline_of(text, TODAY)
    assert (found.isoformat() if found else None) == deadline


def test_a_spaced_date_is_taken_out_of_the_subject():
    assert "9" not in strip_times("GRE 定在 9 月 18 日，怎么复习", TODAY)
    assert read("托福 定在 9 月 18 日，怎么复习", "exam_preparation", today=TODAY).topic == "托福"
