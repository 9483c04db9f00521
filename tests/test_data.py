"""data: batching and seeded shuffling, splits, standardisation, CSV loading and its errors,
built-in datasets."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_gd as tg
from tinygrad_gd import data
from tinygrad_gd.data import DataError, DataLoader


def _rows(n, k=2):
    X = np.arange(n * k, dtype=float).reshape(n, k)
    return X, np.arange(n, dtype=float).reshape(-1, 1)


# --------------------------------------------------------------------------- DataLoader
def test_full_batch_yields_the_arrays_themselves_once():
    X, y = _rows(5)
    loader = DataLoader(X, y)
    batches = list(loader)
    assert len(loader) == 1 and loader.mode == "full batch" and len(batches) == 1
    assert batches[0][0] is X and batches[0][1] is y


def test_mini_batch_and_stochastic_sizes():
    X, y = _rows(10)
    assert [len(xb) for xb, _ in DataLoader(X, y, batch_size=4)] == [4, 4, 2]
    assert [len(xb) for xb, _ in DataLoader(X, y, batch_size=4, drop_last=True)] == [4, 4]
    sgd = DataLoader(X, y, batch_size=1, shuffle=True, seed=0)
    assert sgd.mode == "stochastic" and len(sgd) == 10 and all(len(b[0]) == 1 for b in sgd)
    assert DataLoader(X, batch_size=4).mode == "mini-batch"
    assert DataLoader(X, batch_size=50).mode == "full batch"


@given(
    n=st.integers(1, 40),
    batch_size=st.integers(1, 45),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_epoch_visits_each_row_once_with_rows_kept_together(n, batch_size, seed):
    X, y = _rows(n)
    loader = DataLoader(X, y, batch_size=batch_size, shuffle=True, seed=seed)
    for _ in range(2):
        xs, ys = zip(*loader)
        Xc, yc = np.concatenate(xs), np.concatenate(ys)
        assert sorted(yc.ravel().tolist()) == list(range(n))
        np.testing.assert_array_equal(Xc, X[yc.ravel().astype(int)])  # rows stay paired


def _orders(loader, epochs):
    return [np.concatenate([b.ravel() for b in loader]).tolist() for _ in range(epochs)]


def test_seeded_shuffling_is_reproducible_and_reshuffles_each_epoch():
    y = np.arange(20.0)
    a = _orders(DataLoader(y, batch_size=6, shuffle=True, seed=42), 3)
    b = _orders(DataLoader(y, batch_size=6, shuffle=True, seed=42), 3)
    c = _orders(DataLoader(y, batch_size=6, shuffle=True, seed=43), 3)
    assert a == b  # same seed, same sequence of epochs
    assert a[0] != a[1] != a[2]  # a new order every epoch
    assert a != c
    assert _orders(DataLoader(y, batch_size=6), 2) == [list(range(20))] * 2  # no shuffle: data order
    gen = np.random.default_rng(42)
    assert _orders(DataLoader(y, batch_size=6, shuffle=True, seed=gen), 3) == a


@pytest.mark.parametrize("bad", [True, 1.5, "0"])
def test_a_seed_is_an_int_a_generator_or_none(bad):
    y = np.arange(6.0)
    with pytest.raises(TypeError, match="seed must be a numpy Generator, an int seed or None"):
        DataLoader(y, batch_size=2, shuffle=True, seed=bad)
    with pytest.raises(TypeError, match="seed must be"):
        data.train_test_split(y, seed=bad)
    with pytest.raises(TypeError, match="seed must be"):
        data.make_moons(seed=bad)
    np.testing.assert_array_equal(data.make_moons(seed=np.int64(3))[0], data.make_moons(seed=3)[0])


def test_tensors_in_tensors_out():
    X = tg.Tensor(np.arange(8.0).reshape(4, 2))
    xb = next(iter(DataLoader(X, batch_size=3, shuffle=True, seed=0)))
    assert isinstance(xb, tg.Tensor) and xb.shape == (3, 2)
    assert isinstance(next(iter(DataLoader([[1.0], [2.0]]))), np.ndarray)


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "8"])
def test_bad_batch_size(bad):
    with pytest.raises(DataError, match="batch_size"):
        DataLoader(np.zeros((4, 1)), batch_size=bad)


def test_loader_errors():
    with pytest.raises(DataError, match=r"\(4, 1\), \(3,\)"):
        DataLoader(np.zeros((4, 1)), np.zeros(3))
    with pytest.raises(DataError, match="at least one array"):
        DataLoader()
    with pytest.raises(DataError, match="no rows"):
        DataLoader(np.zeros((0, 2)))
    with pytest.raises(DataError, match="scalar"):
        DataLoader(np.float64(3.0))
    # a batch larger than the data is one full batch, even with drop_last
    assert len(DataLoader(np.zeros((3, 1)), batch_size=5, drop_last=True)) == 1
    with pytest.raises(TypeError, match="seed"):
        DataLoader(np.zeros(3), shuffle=True, seed="x")


# --------------------------------------------------------------------------- split
def test_train_test_split_sizes_disjoint_and_seeded():
    X, y = _rows(10)
    X_tr, X_te, y_tr, y_te = data.train_test_split(X, y, test_size=0.3, seed=0)
    assert X_tr.shape == (7, 2) and X_te.shape == (3, 2) and y_tr.shape == (7, 1)
    assert sorted(np.concatenate([y_tr, y_te]).ravel().tolist()) == list(range(10))
    np.testing.assert_array_equal(X_te, X[y_te.ravel().astype(int)])
    again = data.train_test_split(X, y, test_size=0.3, seed=0)
    np.testing.assert_array_equal(again[3], y_te)
    assert not np.array_equal(data.train_test_split(X, y, test_size=0.3, seed=1)[3], y_te)
    assert data.train_test_split(y, test_size=4, seed=0)[1].shape == (4, 1)
    tr, te = data.train_test_split(y, test_size=2, shuffle=False)
    assert te.ravel().tolist() == [8.0, 9.0] and tr.ravel().tolist() == list(range(8))


@pytest.mark.parametrize("bad", [0.0, 1.0, 0, 10, -1, "a"])
def test_train_test_split_rejects_empty_parts(bad):
    with pytest.raises(DataError, match="test_size"):
        data.train_test_split(np.zeros((10, 1)), test_size=bad)


# --------------------------------------------------------------------------- Standardizer
def test_standardizer_scales_and_inverts():
    rng = np.random.default_rng(0)
    X = rng.normal([5.0, -300.0], [2.0, 1000.0], size=(50, 2))
    s = data.Standardizer()
    Z = s.fit_transform(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1, rtol=1e-12)
    np.testing.assert_allclose(s.mean_, X.mean(axis=0))
    np.testing.assert_allclose(s.scale_, X.std(axis=0))
    np.testing.assert_allclose(s.inverse_transform(Z), X, rtol=1e-12)
    np.testing.assert_allclose(s.transform(X[:3]), Z[:3])


def test_standardizer_constant_column_is_only_centred():
    X = np.array([[1.0, 7.0], [2.0, 7.0], [3.0, 7.0]])
    s = data.Standardizer().fit(X)
    Z = s.transform(X)
    assert np.all(np.isfinite(Z)) and s.scale_[1] == 1.0
    np.testing.assert_array_equal(Z[:, 1], 0.0)
    np.testing.assert_allclose(s.inverse_transform(Z), X)


def test_standardizer_1d_and_tensor_input():
    s = data.Standardizer()
    z = s.fit_transform(np.array([1.0, 2.0, 3.0]))
    assert z.shape == (3,)
    np.testing.assert_allclose(z, [-np.sqrt(1.5), 0, np.sqrt(1.5)])
    np.testing.assert_allclose(s.transform(tg.Tensor([2.0])), [0.0])


def test_standardizer_errors():
    s = data.Standardizer()
    with pytest.raises(DataError, match="before fit"):
        s.transform(np.ones((2, 2)))
    s.fit(np.ones((3, 2)))
    with pytest.raises(DataError, match=r"2 column\(s\).*\(3, 3\)"):
        s.transform(np.ones((3, 3)))
    with pytest.raises(DataError, match="NaN"):
        data.Standardizer().fit(np.array([[1.0], [np.nan]]))
    with pytest.raises(DataError, match="no rows"):
        data.Standardizer().fit(np.zeros((0, 2)))


# --------------------------------------------------------------------------- CSV
def _csv(tmp_path, text, name="d.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_load_csv_reads_target_and_features(tmp_path):
    p = _csv(tmp_path, "size, rooms ,price\n1.5,3,200\n\n2.0,4,260.5\n")
    X, y, names = data.load_csv(p, "price")
    assert names == ["size", "rooms"] and X.dtype == np.float64
    np.testing.assert_array_equal(X, [[1.5, 3], [2.0, 4]])
    np.testing.assert_array_equal(y, [200, 260.5])
    X, y, names = data.load_csv(str(p), "price", features=["rooms"])
    assert names == ["rooms"] and X.shape == (2, 1)


def test_load_csv_handles_bom_and_other_delimiters(tmp_path):
    p = tmp_path / "bom.csv"
    p.write_bytes("\ufeffx;y\n1;2\n3;4\n".encode())
    X, y, names = data.load_csv(p, "y", delimiter=";")
    assert names == ["x"] and y.tolist() == [2.0, 4.0]


def test_load_csv_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.csv") as info:
        data.load_csv(tmp_path / "absent.csv", "y")
    assert isinstance(info.value, DataError)
    with pytest.raises(data.DataFileNotFoundError, match="directory"):
        data.load_csv(tmp_path, "y")


def test_load_csv_missing_column_lists_available(tmp_path):
    p = _csv(tmp_path, "a,b\n1,2\n")
    with pytest.raises(DataError, match=r"no column\(s\) \['price'\]; available columns: \['a', 'b'\]"):
        data.load_csv(p, "price")
    with pytest.raises(DataError, match=r"\['c'\]"):
        data.load_csv(p, "b", features=["a", "c"])


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("x,y\n1,2\n3,abc\n", r"line 3, column 'y': 'abc' is not a number"),
        ("x,y\n1,2\n,4\n", r"line 3, column 'x': an empty cell is a missing value; .*--drop-missing"),
        ("x,y\n1,nan\n", r"line 2, column 'y': 'nan' is a missing value"),
        ("x,y\n1,inf\n", r"line 2, column 'y': 'inf' is not a finite number"),
        ("x,y\n1,2\n3\n", r"line 3: 1 field\(s\) but the header \(line 1\) has 2"),
        ("x,y\n1,2,3\n", r"line 2: 3 field\(s\)"),
        ("", "is empty"),
        ("\n\n", "is empty"),
        ("x,y\n", "no data rows"),
        ("x,x,y\n1,2,3\n", r"duplicate column names \['x'\]"),
        ("y\n1\n", "no feature columns"),
    ],
)
def test_load_csv_errors_are_one_line(tmp_path, text, pattern):
    p = _csv(tmp_path, text)
    with pytest.raises(DataError, match=pattern) as info:
        data.load_csv(p, "y")
    assert "\n" not in str(info.value) and "d.csv" in str(info.value)


def test_load_csv_target_listed_as_feature(tmp_path):
    p = _csv(tmp_path, "x,y\n1,2\n")
    with pytest.raises(DataError, match="also listed as a feature"):
        data.load_csv(p, "y", features=["x", "y"])


def test_load_csv_not_utf8(tmp_path):
    p = tmp_path / "latin.csv"
    p.write_bytes(b"x,y\n1,\xff\n")
    with pytest.raises(DataError, match="UTF-8"):
        data.load_csv(p, "y")


# --------------------------------------------------------------------------- built-in datasets
def test_line_is_the_three_points_on_y_equals_2x():
    X, y = data.load_builtin("line")
    np.testing.assert_array_equal(X, [[1], [2], [3]])
    np.testing.assert_array_equal(y, [[2], [4], [6]])


def test_noisy_line_is_seeded_and_follows_the_line():
    X, y = data.make_noisy_line(n=400, slope=-1.5, intercept=4.0, noise=0.1, seed=3)
    assert X.shape == (400, 1) and y.shape == (400, 1)
    coef = np.linalg.lstsq(np.c_[X, np.ones(400)], y.ravel(), rcond=None)[0]
    np.testing.assert_allclose(coef, [-1.5, 4.0], atol=0.05)
    np.testing.assert_array_equal(data.make_noisy_line(seed=3)[1], data.make_noisy_line(seed=3)[1])
    assert not np.array_equal(data.make_noisy_line(seed=3)[1], data.make_noisy_line(seed=4)[1])
    np.testing.assert_allclose(data.make_noisy_line(n=5, noise=0.0)[1], 2 * data.make_noisy_line(n=5)[0] + 1)


@pytest.mark.parametrize("name", ["two_blobs", "moons"])
def test_two_class_sets(name):
    X, y = data.load_builtin(name)
    assert X.shape == (200, 2) and y.shape == (200, 1) and set(np.unique(y)) == {0.0, 1.0}
    assert y.sum() == 100
    np.testing.assert_array_equal(data.load_builtin(name, seed=1)[0], data.load_builtin(name, seed=1)[0])


def test_multiclass_set():
    X, y = data.load_builtin("three_blobs", n=90)
    assert X.shape == (90, 2) and y.shape == (90,) and y.dtype.kind == "i"
    assert np.bincount(y).tolist() == [30, 30, 30]
    centroids = np.array([X[y == k].mean(axis=0) for k in range(3)])
    assert np.min(np.linalg.norm(centroids[:, None] - centroids[None], axis=-1) + 10 * np.eye(3)) > 3


def test_registry_and_errors():
    assert set(data.BUILTIN_DATASETS) >= {"line", "noisy_line", "two_blobs", "moons", "three_blobs"}
    for name, entry in data.BUILTIN_DATASETS.items():
        X, y = data.load_builtin(name)
        assert len(X) == len(y) and entry.task in {"regression", "binary", "multiclass"}
    with pytest.raises(DataError, match=r"unknown dataset 'iris'.*'line'"):
        data.load_builtin("iris")
    with pytest.raises(DataError, match="moons"):
        data.load_builtin("moons", wrong=1)
    with pytest.raises(DataError, match="positive integer"):
        data.make_moons(n=0)
    with pytest.raises(DataError, match="centers"):
        data.make_blobs(centers=1)
    with pytest.raises(DataError, match="noise"):
        data.make_noisy_line(noise=-1)


# --------------------------------------------------------------------------- not a regular file
def test_load_csv_refuses_a_device_as_not_a_regular_file():
    """/dev/null exists: it used to be reported as "no such file"."""
    with pytest.raises(DataError, match=r"'/dev/null': it is a character device, not a regular file") as info:
        data.load_csv("/dev/null", "y")
    assert not isinstance(info.value, FileNotFoundError)


def _feed_fifo(path, text):
    import threading

    def writer():
        with open(path, "w") as f:  # blocks until the reader opens the pipe
            f.write(text)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    return thread


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="needs named pipes")
def test_load_csv_reads_a_named_pipe_and_reports_an_empty_one(tmp_path):
    """A FIFO (or a shell's <(...)) is read like a file; an empty one is "empty", not missing."""
    import os

    fifo = tmp_path / "rows.csv"
    os.mkfifo(fifo)
    thread = _feed_fifo(fifo, "x,y\n1,2\n3,4\n")
    X, y, names = data.load_csv(fifo, "y")
    thread.join(timeout=10)
    assert names == ["x"] and X.tolist() == [[1.0], [3.0]] and y.tolist() == [2.0, 4.0]
    thread = _feed_fifo(fifo, "")
    with pytest.raises(DataError, match="is empty: expected a header row"):
        data.load_csv(fifo, "y")
    thread.join(timeout=10)
