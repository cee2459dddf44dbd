"""Dates as people read them (idgw.web.i18n.format_datetime): Bangkok time, the Buddhist era in
Thai, and month names from the gateway's own tables (never the process's C locale)."""

import pytest

from idgw.web.i18n import format_datetime

# 2025-12-01 00:00 UTC is 07:00 in Bangkok; 2024-12-31 23:59 UTC is already 2025 there.
CASES = [(1764547200, "01 Dec 2025 07:00 (UTC+7)", "1 ธ.ค. 2568 07:00 น."),
         (1735689599, "01 Jan 2025 06:59 (UTC+7)", "1 ม.ค. 2568 06:59 น."),
         (1720000000, "03 Jul 2024 16:46 (UTC+7)", "3 ก.ค. 2567 16:46 น.")]


@pytest.mark.parametrize(("epoch", "en", "th"), CASES)
def test_bangkok_time_and_the_buddhist_era(epoch, en, th):
    assert format_datetime(epoch, "en") == en
    assert format_datetime(epoch, "th") == th

