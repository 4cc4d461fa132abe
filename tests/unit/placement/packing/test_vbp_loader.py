"""The .vbp parser expands item types by demand in file order and rejects malformed files."""
import numpy as np
import pytest

from aiops.placement.packing.bins import InfeasiblePacking, check_packing, compact, lower_bound
from aiops.placement.packing.vbp import load_known, parse_vbp, to_vbp_text

TEXT = """2
10 20
3
4 5 2
6 15 1
1 1 0
"""


def test_parse_expands_demand_in_file_order():
    inst = parse_vbp(TEXT, "toy")
    assert inst.d == 2 and inst.n == 3
    assert inst.capacity.tolist() == [10, 20]
    assert inst.sizes.tolist() == [[4, 5], [4, 5], [6, 15]]
    assert inst.item_type.tolist() == [0, 0, 1]


def test_roundtrip_and_errors():
    inst = parse_vbp(TEXT, "toy")
    again = parse_vbp(to_vbp_text(inst), "toy")
    assert np.array_equal(again.sizes, inst.sizes)
    with pytest.raises(ValueError, match="expected 3 item lines"):
        parse_vbp("2\n10 20\n3\n1 1 1\n", "bad")
    with pytest.raises(ValueError, match="larger than the bin"):
        parse_vbp("1\n10\n1\n11 1\n", "big")


def test_load_known_reads_opt_and_families(tmp_path):
    p = tmp_path / "X_summary_known.csv"
    p.write_text("instance_name\tLB\tOPT\tbest_overall\tbest_IC\tbest_MB-Pairing\na_1\t5\t6\t7\t8\t7\nb_2\t3\t-1\t4\t4\t5\n")
    known = load_known(p)
    assert known["a_1"].opt == 6 and known["a_1"].best_families == {"IC": 8, "MB-Pairing": 7}
    assert known["b_2"].opt is None and known["b_2"].lb == 3


def test_check_packing_catches_overfill_and_missing_items():
    sizes = np.array([[6, 1], [5, 1], [4, 1]])
    cap = np.array([10, 10])
    assert check_packing(sizes, cap, np.array([0, 1, 0])) == 2
    with pytest.raises(InfeasiblePacking, match="over capacity"):
        check_packing(sizes, cap, np.array([0, 0, 1]))
    with pytest.raises(InfeasiblePacking, match="not placed"):
        check_packing(sizes, cap, np.array([0, -1, 1]))
    assert compact(np.array([5, 2, 5, 9])).tolist() == [0, 1, 0, 2]


def test_lower_bound_volume_and_big_items():
    cap = np.array([10, 10])
    assert lower_bound(np.array([[6, 1]] * 3), cap) == 3  # pairwise incompatible
    assert lower_bound(np.array([[3, 9], [3, 1], [3, 1]]), cap) == 2  # second dimension volume: 11 > 10
    assert lower_bound(np.array([[5, 5]] * 4), cap) == 2
