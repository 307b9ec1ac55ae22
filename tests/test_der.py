"""DER: conformance with NIST md-eval on a real AMI meeting, and hand-computed cases."""

import pytest
from conftest import needs_shared

from qa.eval.der import diarization_error
from qa.exports.rttm import read_rttm
from qa.types import SpeakerSegment as S


def test_reproduces_md_eval_on_ami_es2014c():
    d = needs_shared("diarization", "speechbrain_ami_es2014c_rttm")
    ref = read_rttm(d / "ref_rttm" / "ES2014c.rttm")["ES2014c"]
    sys_ = read_rttm(d / "sys_rttm" / "ES2014c.rttm")["ES2014c"]
    res = diarization_error(ref, sys_, collar=0.25, skip_overlap=True)
    # md-eval.pl -c 0.25 -1: missed 0.00 %, false alarm 0.00 %, speaker error 7.169 %, DER 7.16923618 %
    assert res.der * 100 == pytest.approx(7.16923618, abs=1e-6)
    assert res.missed_s == pytest.approx(0, abs=1e-6) and res.false_alarm_s == pytest.approx(0, abs=1e-6)


def test_hand_computed_components():
    ref = [S("a", 0, 10), S("b", 10, 20)]
    # system: a's speech found as X, b's first 5 s labelled X too (confusion 5), 2 s false alarm, 3 s missed
    hyp = [S("X", 0, 15), S("Y", 15, 17), S("Y", 20, 22)]
    res = diarization_error(ref, hyp, collar=0.0, uem=(0, 22))
    assert (res.missed_s, res.false_alarm_s, res.confusion_s, res.scored_s) == pytest.approx((3, 2, 5, 20))
    assert res.der == pytest.approx(0.5)
    assert dict(res.mapping) == {"a": "X", "b": "Y"}


def test_collar_and_overlap_exclusion():
    ref = [S("a", 0, 10), S("b", 8, 20)]
    hyp = [S("X", 0, 10.2), S("Y", 10.2, 20)]
    strict = diarization_error(ref, hyp, collar=0.0)
    lenient = diarization_error(ref, hyp, collar=0.25, skip_overlap=True)
    assert strict.der > 0 and lenient.der == pytest.approx(0.0)


def test_perfect_and_empty():
    ref = [S("a", 0, 5), S("b", 6, 9)]
    assert diarization_error(ref, [S("1", 0, 5), S("2", 6, 9)]).der == 0
    assert diarization_error(ref, []).missed_s == pytest.approx(8 - 4 * 0.25)  # collar: 0.25 s off each boundary
