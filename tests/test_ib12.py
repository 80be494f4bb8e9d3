"""The 12-bit data set follows the rule's published checks."""
import numpy as np
import pytest

from datagen import ib12


@pytest.fixture(scope="module")
def data():
    return ib12.make_dataset(seed=0)


def test_rows_hold_the_bits_of_their_index_most_significant_first(data):
    x = data["x"]
    assert x.shape == (4096, 12) and x.dtype == np.uint8
    assert x[1].tolist() == [0] * 11 + [1] and x[2048].tolist() == [1] + [0] * 11
    assert len({row.tobytes() for row in x}) == 4096


def test_there_are_2118_positive_labels(data):
    assert int(data["y"].sum()) == 2118


@pytest.mark.parametrize("n, share", [(3, 0.0), (4, 0.0), (5, 7.58), (6, 57.58), (7, 92.42),
                                      (8, 100.0), (12, 100.0)])
def test_share_of_positives_by_number_of_active_bits(data, n, share):
    mask = data["x"].sum(1) == n
    assert 100 * data["y"][mask].mean() == pytest.approx(share, abs=0.005)


def test_icosahedron_has_30_edges_and_every_vertex_five_neighbours():
    assert len(ib12.EDGES) == 30
    assert all(len(v) == 5 for v in ib12.NEIGHBOURS.values())
    assert all(i in ib12.NEIGHBOURS[j] for i, js in ib12.NEIGHBOURS.items() for j in js)


def test_split_is_80_20_seeded_and_disjoint(data):
    assert len(data["train_idx"]) == 3277 and len(data["test_idx"]) == 819
    assert not set(data["train_idx"]) & set(data["test_idx"])
    again = ib12.make_dataset(seed=0)
    assert np.array_equal(again["train_idx"], data["train_idx"])
    assert not np.array_equal(ib12.make_dataset(seed=1)["train_idx"], data["train_idx"])


def test_cli_writes_the_npz(tmp_path):
    ib12.main(["--out", str(tmp_path)])
    saved = np.load(tmp_path / "ib12.npz")
    assert set(saved.files) == {"x", "y", "train_idx", "test_idx"}
    assert int(saved["y"].sum()) == 2118
