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


def test_the_2020_protocol_rows_follow_table1s_rule_on_maxboxacc_v2():
    import pandas as pd

    from infocam.claims import wsol2020_claims

    comparison = pd.DataFrame([
        {"dataset": "cub", "backbone": "vgg16", "adl": False, "checkpoint": "selected", "method": "infocam",
         "baseline": "cam", "metric": "maxboxacc_v2", "diff": 3.1, "ci_low": 1.2, "ci_high": 5.0, "p_value": None},
        {"dataset": "cub", "backbone": "vgg16", "adl": True, "checkpoint": "selected", "method": "infocam",
         "baseline": "cam", "metric": "maxboxacc_v2", "diff": 1.0, "ci_low": -0.5, "ci_high": 2.5, "p_value": None},
        {"dataset": "cub", "backbone": "vgg16", "adl": True, "checkpoint": "last", "method": "infocam",
         "baseline": "cam", "metric": "maxboxacc_v2", "diff": 9.0, "ci_low": 8.0, "ci_high": 10.0, "p_value": None},
    ])
    rows = pd.DataFrame(wsol2020_claims(comparison, synthetic=[], source="c.csv"))
    assert list(rows.verdict) == ["reproduced", "not reproduced"]  # the last-epoch row is no claim row
    assert rows.id.iloc[1] == "infocam-vs-cam-wsol2020-cub-vgg16-adl"
    synthetic = pd.DataFrame(wsol2020_claims(comparison, synthetic=["cub"], source="c.csv"))
    assert (synthetic.verdict == "not testable on this config (synthetic data)").all()
