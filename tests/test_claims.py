"""The claims ledger's verdict rules."""

from infocam.claims import gain_verdict, same_verdict


def test_a_gain_is_reproduced_only_with_the_papers_sign_and_an_interval_excluding_zero():
    assert gain_verdict(1, 0.5, 3.0) == "reproduced"
    assert gain_verdict(1, -0.5, 3.0) == "not reproduced"  # the interval holds 0
    assert gain_verdict(1, -3.0, -0.5) == "not reproduced"  # the other sign
    assert gain_verdict(-1, -3.0, -0.5) == "reproduced"
    assert gain_verdict(1, float("nan"), float("nan")) == "not reproduced (no interval)"


def test_no_difference_is_reproduced_when_the_interval_holds_zero():
    assert same_verdict(-1.0, 2.0) == "reproduced"
    assert same_verdict(0.5, 2.0) == "not reproduced"
