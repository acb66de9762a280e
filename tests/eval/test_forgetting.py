import pytest

from eval.forgetting import acc, bwt, forgetting, summary


def test_metrics_on_a_hand_computed_matrix():
    R = [
        [0.8, None, None],
        [0.6, 0.9, None],
        [0.7, 0.5, 1.0],
    ]
    assert acc(R) == pytest.approx((0.7 + 0.5 + 1.0) / 3)
    assert bwt(R) == pytest.approx(((0.7 - 0.8) + (0.5 - 0.9)) / 2)
    # Day 0's best before the end is 0.8, day 1's is 0.9.
    assert forgetting(R) == pytest.approx(((0.8 - 0.7) + (0.9 - 0.5)) / 2)


def test_no_forgetting_when_nothing_drops():
    R = [[0.5, None], [0.6, 0.7]]
    assert summary(R) == pytest.approx({"acc": 0.65, "bwt": 0.1, "forgetting": -0.1})


def test_single_night_has_no_backward_metrics():
    assert summary([[0.4]]) == {"acc": 0.4, "bwt": None, "forgetting": None}


def test_missing_or_ragged_matrix_is_refused():
    with pytest.raises(ValueError, match="square"):
        acc([[0.1, 0.2]])
    with pytest.raises(ValueError, match="missing"):
        acc([[0.1, None], [None, 0.2]])
