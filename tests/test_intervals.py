import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qa import intervals as iv

GRID = 0.01
pairs = st.lists(
    st.tuples(st.integers(0, 300), st.integers(1, 60)).map(lambda t: (t[0] * GRID * 10, (t[0] + t[1]) * GRID * 10)),
    max_size=12,
)


def mask(ints, n=4000):
    """Brute force: which 0.01 s grid cells an interval set covers."""
    m = np.zeros(n, dtype=bool)
    for s, e in ints:
        m[int(round(s / GRID)) : int(round(e / GRID))] = True
    return m


@settings(max_examples=200, deadline=None)
@given(pairs, pairs)
def test_set_operations_match_brute_force(a, b):
    assert (mask(iv.merge(a)) == mask(a)).all()
    assert (mask(iv.intersect(a, b)) == (mask(a) & mask(b))).all()
    assert (mask(iv.subtract(a, b)) == (mask(a) & ~mask(b))).all()
    assert abs(iv.total(a) - mask(a).sum() * GRID) < 1e-6
    merged = iv.merge(a)
    assert (np.diff(merged[:, 0]) > 0).all() if len(merged) > 1 else True
    assert (merged[1:, 0] > merged[:-1, 1]).all() if len(merged) > 1 else True


@settings(max_examples=100, deadline=None)
@given(pairs)
def test_complement_partitions_the_span(a):
    gaps = iv.complement(a, 0.0, 40.0)
    inside = iv.intersect(a, [(0.0, 40.0)])
    assert abs(iv.total(gaps) + iv.total(inside) - 40.0) < 1e-6
    assert iv.total(iv.intersect(gaps, a)) == 0


def test_merge_joins_small_gaps_only():
    out = iv.merge([(0, 1), (1.2, 2), (3, 4)], gap=0.25)
    assert out.tolist() == [[0, 2], [3, 4]]


def test_coverage_and_from_mask():
    assert iv.coverage([(0, 5)], [(0, 10)]) == 0.5
    assert iv.coverage([], []) == 1.0
    m = np.array([0, 1, 1, 0, 0, 1], dtype=bool)
    assert iv.from_mask(m, hop_s=0.01).round(6).tolist() == [[0.01, 0.03], [0.05, 0.06]]
