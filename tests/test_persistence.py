"""Persistence: Tensors and Modules pickle and unpickle (data, dtype, requires_grad; no graph and
no ``.grad``, as documented in docs/errors.md); checkpoints resume training exactly;
``load_state_dict`` / ``load`` reject wrong keys, shapes and dtypes with a message that lists
every problem, and leave the module unchanged when they do."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import tinygrad_gd as tg
from tinygrad_gd import losses as L
from tinygrad_gd import nn

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)


def _round_trip(obj, protocol=pickle.HIGHEST_PROTOCOL):
    return pickle.loads(pickle.dumps(obj, protocol=protocol))


# --------------------------------------------------------------------------- Tensor
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    "data",
    [np.array(2.5), np.arange(6.0).reshape(2, 3), np.ones(3, dtype=np.float32), np.zeros((0, 2)), np.array([1e308, -0.0, 5e-324])],
    ids=["0-d", "matrix", "float32", "empty", "extremes"],
)
def test_tensor_round_trip_keeps_data_dtype_and_requires_grad(protocol, data):
    for requires_grad in (False, True):
        t = tg.Tensor(data, requires_grad=requires_grad)
        r = _round_trip(t, protocol)
        assert type(r) is tg.Tensor
        assert r.shape == t.shape and r.dtype == t.dtype and r.requires_grad == requires_grad
        np.testing.assert_array_equal(r.numpy(), t.numpy())
        assert np.signbit(r.numpy()).tolist() == np.signbit(t.numpy()).tolist()  # -0.0 kept
        assert not np.shares_memory(r.numpy(), t.numpy())


def test_tensor_round_trip_drops_grad_and_graph_and_gives_a_working_leaf():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = x * 3.0
    y.sum().backward()
    rx, ry = _round_trip(x), _round_trip(y)
    assert rx.grad is None  # .grad is not carried (documented): save it explicitly if needed
    assert ry.is_leaf and ry.grad_fn is None and ry.requires_grad  # no graph travels
    (rx * ry).sum().backward()
    np.testing.assert_array_equal(rx.grad.numpy(), [3.0, 6.0])
    np.testing.assert_array_equal(ry.grad.numpy(), [1.0, 2.0])
    assert x.grad.numpy().tolist() == [3.0, 3.0]  # the original is untouched


def test_tensor_views_unpickle_as_independent_tensors_with_fresh_version_counters():
    base = tg.Tensor(np.arange(4.0))
    view = base.reshape(2, 2)
    base += 1.0  # version 1, shared with the view
    r_base, r_view = _round_trip((base, view))
    assert r_base._version == 0 and r_view._version == 0
    r_base += 1.0
    np.testing.assert_array_equal(r_view.numpy(), [[1.0, 2.0], [3.0, 4.0]])  # no shared memory
    assert r_view._version == 0


def test_tensor_deepcopy_is_a_copy():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    c = copy.deepcopy(x)
    c.data[0] = 9.0
    assert x.numpy()[0] == 1.0 and c.requires_grad


# --------------------------------------------------------------------------- Module
class Tied(nn.Module):
    """Two layers sharing a weight, plus a constant (non-parameter) tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Linear(3, 3, rng=0)
        self.second = nn.Linear(3, 2, rng=1)
        self.first.weight = nn.Linear(3, 3, rng=2).weight
        self.shared = nn.Linear(3, 3, rng=3)
        self.shared_again = self.shared
        self.scale = tg.Tensor([0.5, 2.0])  # needs no grad: a buffer
        self.note = "kept"

    def forward(self, x):
        return self.second(self.shared_again(self.shared(self.first(x)).tanh())) * self.scale


def test_module_round_trip_keeps_structure_parameters_ties_and_mode():
    model = Tied().eval()
    x = np.random.default_rng(0).normal(size=(4, 3))
    clone = _round_trip(model)
    assert type(clone) is Tied and clone.note == "kept" and not clone.training
    assert [n for n, _ in clone.named_parameters()] == [n for n, _ in model.named_parameters()]
    assert clone.shared is clone.shared_again and clone.shared is not model.shared
    np.testing.assert_array_equal(clone(x).numpy(), model(x).numpy())
    for (_, p), (_, q) in zip(clone.named_parameters(), model.named_parameters()):
        assert p.requires_grad and p.dtype == q.dtype and not np.shares_memory(p.numpy(), q.numpy())
    assert not clone.scale.requires_grad


def test_module_round_trip_drops_gradients_and_trains():
    model = nn.Sequential(nn.Linear(2, 4, rng=0), nn.Tanh(), nn.Linear(4, 1, rng=1))
    X, y = np.ones((3, 2)), np.zeros((3, 1))
    L.mse(model(X), y).backward()
    clone = _round_trip(model)
    assert all(p.grad is None for p in clone.parameters())
    L.mse(clone(X), y).backward()
    for p, q in zip(clone.parameters(), model.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-15)


def _loop(model, optimizer, X, y, steps):
    for _ in range(steps):
        optimizer.zero_grad()
        L.mse(model(X), y).backward()
        optimizer.step()


@pytest.mark.parametrize("how", ["pickle the objects", "state dicts"])
def test_checkpoint_resumes_training_exactly(how):
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 1))

    def make():
        model = nn.Sequential(nn.Linear(3, 4, rng=5), nn.Tanh(), nn.Linear(4, 1, rng=6))
        return model, tg.optim.Adam(model.parameters(), lr=0.01)

    straight, straight_opt = make()
    _loop(straight, straight_opt, X, y, 20)

    model, optimizer = make()
    _loop(model, optimizer, X, y, 10)
    if how == "pickle the objects":
        model, optimizer = _round_trip((model, optimizer))
    else:
        saved = _round_trip({"model": model.state_dict(), "optimizer": optimizer.state_dict()})
        model, optimizer = make()
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
    _loop(model, optimizer, X, y, 10)
    for p, q in zip(model.parameters(), straight.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


# --------------------------------------------------------------------------- load_state_dict
def _snapshot(model):
    return {name: (p.data, p.data.copy()) for name, p in model.named_parameters()}


def _assert_unchanged(model, snapshot):
    for name, p in model.named_parameters():
        array, values = snapshot[name]
        assert p.data is array, f"{name}: the array was replaced"
        np.testing.assert_array_equal(p.data, values, err_msg=name)


def _model():
    return nn.Sequential(nn.Linear(2, 3, rng=0), nn.ReLU(), nn.Linear(3, 1, rng=1))


def test_state_dict_is_a_copy():
    model = _model()
    state = model.state_dict()
    state["0.weight"][...] = 99.0
    assert not np.any(model[0].weight.numpy() == 99.0)


def test_load_state_dict_round_trip_and_dtype_cast():
    source, target = _model(), _model()
    for p in source.parameters():
        p.data = p.data + 1.0
    result = target.load_state_dict(source.state_dict())
    assert result == nn.LoadResult([], [])
    for p, q in zip(target.parameters(), source.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    small = nn.Linear(2, 1, dtype=np.float32)
    small.load_state_dict({"weight": np.array([[1, 2]]), "bias": np.array([0.5])})  # int, float64
    assert small.weight.dtype == np.float32 and small.weight.numpy().tolist() == [[1.0, 2.0]]


def test_load_state_dict_lists_every_problem_and_changes_nothing():
    model = _model()
    before = _snapshot(model)
    state = model.state_dict()
    del state["2.bias"]  # missing
    state["0.weight"] = np.zeros((3, 2)) + 5.0  # valid: must not be written either
    state["2.weight"] = np.zeros((3, 1))  # wrong shape (transposed)
    state["0.bias"] = np.zeros(3, dtype=np.complex128)  # wrong dtype
    state["extra.weight"] = np.zeros(1)  # unexpected
    with pytest.raises(nn.StateDictError) as info:
        model.load_state_dict(state)
    message = str(info.value)
    for fragment in ("missing keys ['2.bias']", "unexpected keys ['extra.weight']", "2.weight: shape (3, 1)", "(1, 3)", "0.bias: dtype complex128", "nothing was changed"):
        assert fragment in message, fragment
    assert "['0.weight', '0.bias', '2.weight', '2.bias']" in message  # the model's keys
    _assert_unchanged(model, before)


@pytest.mark.parametrize(
    "bad",
    [np.array(["a", "b", "c"]), np.array([None, 1, 2], dtype=object), np.array([1 + 2j, 0, 0])],
    ids=["strings", "objects", "complex"],
)
def test_load_state_dict_rejects_non_numeric_dtypes(bad):
    model = _model()
    before = _snapshot(model)
    state = model.state_dict()
    state["0.bias"] = bad
    with pytest.raises(nn.StateDictError, match=r"0\.bias: dtype"):
        model.load_state_dict(state)
    _assert_unchanged(model, before)


def test_strict_false_tolerates_keys_but_never_shapes():
    model = _model()
    state = model.state_dict()
    del state["2.bias"]
    state["other"] = np.zeros(2)
    state["0.weight"] = state["0.weight"] + 1.0
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["2.bias"] and result.unexpected_keys == ["other"]
    np.testing.assert_array_equal(model[0].weight.numpy(), state["0.weight"])
    before = _snapshot(model)
    state["2.weight"] = np.zeros((1, 4))
    with pytest.raises(nn.StateDictError, match=r"2\.weight: shape \(1, 4\)"):
        model.load_state_dict(state, strict=False)
    _assert_unchanged(model, before)


def test_load_state_dict_needs_a_mapping():
    with pytest.raises(TypeError, match="mapping"):
        _model().load_state_dict([("0.weight", np.zeros((3, 2)))])


def test_a_graph_built_before_loading_is_never_silently_wrong():
    model = nn.Linear(2, 1, rng=0)
    x = np.array([[1.0, 2.0]])
    out = model(x).sum()
    loss = out * model.weight.sum()  # the graph saved the old weight
    old_out, old_weight_sum = out.item(), model.weight.numpy().sum()
    model.load_state_dict({"weight": np.array([[10.0, 20.0]]), "bias": np.array([1.0])})
    try:
        loss.backward()
    except RuntimeError as e:  # refusing is fine...
        assert "in-place" in str(e)
    else:  # ...and so is the gradient of the graph as it was built, from the old values
        expected = x[0] * old_weight_sum + old_out  # d/dW [(x·W + b)·ΣW]
        np.testing.assert_allclose(model.weight.grad.numpy()[0], expected, rtol=1e-12)


# --------------------------------------------------------------------------- save / load
def test_save_and_load_round_trip(tmp_path):
    model = _model()
    written = model.save(tmp_path / "model")
    assert written.suffix == ".npz"
    other = _model()
    for p in other.parameters():
        p.data = p.data * 0.0
    assert other.load(tmp_path / "model") is other
    for p, q in zip(other.parameters(), model.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_load_rejects_a_different_architecture_and_changes_nothing(tmp_path):
    nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1)).save(tmp_path / "wide.npz")
    model = _model()
    before = _snapshot(model)
    with pytest.raises(nn.StateDictError, match=r"0\.weight: shape \(4, 2\) in the state, \(3, 2\) in the model"):
        model.load(tmp_path / "wide.npz")
    _assert_unchanged(model, before)


def test_load_missing_and_junk_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no saved model"):
        _model().load(tmp_path / "nothing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    model = _model()
    before = _snapshot(model)
    with pytest.raises(nn.StateDictError, match="not a parameter file"):
        model.load(junk)
    _assert_unchanged(model, before)


def test_load_never_unpickles(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, **{"0.weight": np.array([object()] * 6, dtype=object).reshape(3, 2)})
    with pytest.raises(nn.StateDictError, match="not a parameter file"):
        _model().load(path)


# --------------------------------------------------------------------------- atomic save
@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()], ids=["disk-full", "ctrl-c"])
def test_a_failed_save_keeps_the_old_checkpoint_and_leaves_no_temporary_file(tmp_path, monkeypatch, failure):
    path = _model().save(tmp_path / "model.npz")
    good = path.read_bytes()
    real_write_array = np.lib.format.write_array
    calls = []

    def write_half_then_fail(fp, array, *args, **kwargs):
        calls.append(1)
        if len(calls) < 3:
            return real_write_array(fp, array, *args, **kwargs)
        fp.write(b"\0" * 100)  # part of the third array, then the disk fills up / Ctrl-C
        raise failure

    monkeypatch.setattr(np.lib.format, "write_array", write_half_then_fail)
    bigger = nn.Sequential(nn.Linear(2, 3, rng=7), nn.ReLU(), nn.Linear(3, 1, rng=8))
    with pytest.raises(type(failure)):
        bigger.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == good  # byte-identical
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]  # no temporary file left
    restored = _model()
    for p in restored.parameters():
        p.data = p.data * 0.0
    restored.load(path)
    for p, q in zip(restored.parameters(), _model().parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_save_replaces_the_file_keeps_its_permissions_and_reports_a_missing_folder(tmp_path):
    path = _model().save(tmp_path / "model.npz")
    path.chmod(0o640)
    other = nn.Sequential(nn.Linear(2, 3, rng=4), nn.ReLU(), nn.Linear(3, 1, rng=5))
    assert other.save(path) == path
    assert (path.stat().st_mode & 0o777) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]
    loaded = _model().load(path)
    np.testing.assert_array_equal(loaded[0].weight.numpy(), other[0].weight.numpy())
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _model().save(tmp_path / "no" / "such" / "folder" / "model.npz")


# --------------------------------------------------------------------------- names that are np.savez keywords
class KeywordNames(nn.Module):
    """Parameters named like np.savez's own arguments, and names with dots."""

    NAMES = ("file", "allow_pickle", "args", "kwds", "x.npy")

    def __init__(self, seed: int) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        for name in self.NAMES:
            self.register_parameter(name, tg.Tensor(rng.normal(size=2), requires_grad=True))
        self.add_module("v1.2", nn.Linear(2, 1, rng=seed))

    def forward(self, x):
        return self.file + self.args


def test_parameter_names_that_are_savez_keywords_are_saved_and_loaded(tmp_path):
    source = KeywordNames(0)
    expected = ["file", "allow_pickle", "args", "kwds", "x.npy", "v1.2.weight", "v1.2.bias"]
    assert list(source.state_dict()) == expected
    path = source.save(tmp_path / "model.npz")
    with np.load(path, allow_pickle=False) as archive:  # a plain .npz, readable by numpy
        assert sorted(archive.files) == sorted(expected)
    target = KeywordNames(1)
    target.load(path)
    for name, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[name], value, err_msg=name)


@pytest.mark.parametrize("name", ["allow_pickle", "args", "kwds"])
def test_a_keyword_named_parameter_alone_is_not_silently_dropped(tmp_path, name):
    source = nn.Module()
    setattr(source, name, tg.Tensor([1.0, 2.0], requires_grad=True))
    with np.load(source.save(tmp_path / "model.npz"), allow_pickle=False) as archive:
        assert archive.files == [name]


def test_a_parameter_named_file_does_not_truncate_the_old_checkpoint(tmp_path):
    path = _model().save(tmp_path / "model.npz")
    good = path.read_bytes()
    KeywordNames(0).save(path)  # used to raise TypeError after truncating the file to 0 bytes
    assert path.read_bytes() != good and KeywordNames(2).load(path) is not None


# --------------------------------------------------------------------------- buffers
class Normalized(nn.Module):
    """A frozen embedding (created without grad), running statistics, a trainable layer, and a
    layer frozen after construction."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.frozen = tg.Tensor(rng.normal(size=(3, 3)))  # never required grad: a buffer
        self.register_buffer("running_mean", tg.Tensor(rng.normal(size=3)))
        self.register_buffer("scratch", tg.Tensor(np.zeros(3)), persistent=False)
        self.head = nn.Linear(3, 1, rng=seed)
        self.body = nn.Linear(3, 3, rng=seed + 1)
        self.body.requires_grad_(False)  # frozen after construction: still parameters

    def forward(self, x):
        return self.head(self.body((x - self.running_mean) @ self.frozen))


def test_buffers_and_frozen_parameters_are_saved_and_round_trip(tmp_path):
    source = Normalized(0)
    assert [n for n, _ in source.named_buffers()] == ["frozen", "running_mean", "scratch"]
    assert [n for n, _ in source.named_parameters()] == ["head.weight", "head.bias", "body.weight", "body.bias"]
    assert list(source.state_dict()) == [
        "frozen", "running_mean", "head.weight", "head.bias", "body.weight", "body.bias"
    ]  # PyTorch's order: own parameters, own persistent buffers, then the children
    x = np.random.default_rng(5).normal(size=(4, 3))
    expected = source(x).numpy()
    for how in ("state dict", "file"):
        target = Normalized(1)
        assert not np.array_equal(target(x).numpy(), expected)
        if how == "state dict":
            target.load_state_dict(source.state_dict())
        else:
            target.load(source.save(tmp_path / "model.npz"))
        np.testing.assert_array_equal(target(x).numpy(), expected)
        assert not target.frozen.requires_grad and not target.body.weight.requires_grad


def test_a_tensor_assigned_without_grad_is_a_saved_buffer(tmp_path):
    model = Tied()
    assert dict(model.named_buffers()).keys() == {"scale"} and "scale" in model.state_dict()
    target = Tied()
    target.scale = tg.Tensor([9.0, 9.0])
    target.load(model.save(tmp_path / "tied.npz"))
    x = np.ones((2, 3))
    np.testing.assert_array_equal(target(x).numpy(), model(x).numpy())


def test_buffer_registration_rules():
    m = Normalized(0)
    old = m.running_mean
    m.running_mean = m.running_mean * 0.9 + tg.Tensor(np.ones(3), requires_grad=True) * 0.1
    assert m.running_mean.requires_grad and "running_mean" in dict(m.named_buffers())
    assert "running_mean" not in dict(m.named_parameters())  # a buffer stays a buffer
    assert m.running_mean is not old
    m.body.weight = tg.zeros(3, 3)  # a frozen tensor assigned to a parameter stays a parameter
    assert "body.weight" in dict(m.named_parameters())
    with pytest.raises(TypeError, match="cannot assign ndarray to buffer 'frozen': assign a Tensor or None"):
        m.frozen = np.zeros((3, 3))
    m.frozen = None
    assert "frozen" not in dict(m.named_buffers()) and m.frozen is None
    with pytest.raises(KeyError, match="already a sub-module"):
        m.register_buffer("head", tg.zeros(1))
    clone = _round_trip(m)
    assert [n for n, _ in clone.named_buffers()] == [n for n, _ in m.named_buffers()]


def test_load_state_dict_checks_buffers_too():
    m = Normalized(0)
    state = m.state_dict()
    del state["running_mean"]
    state["frozen"] = np.zeros((2, 2))
    with pytest.raises(nn.StateDictError, match=r"missing keys \['running_mean'\].*frozen: shape \(2, 2\)"):
        m.load_state_dict(state)


# --------------------------------------------------------------------------- damaged and hostile files
def _npz_with_header(path, name, header, data=b"", also=None):
    """An .npz whose member ``name`` has the given .npy header and raw data (maybe none)."""
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        with archive.open(f"{name}.npy", "w") as member:
            np.lib.format.write_array_header_1_0(member, header)
            member.write(data)
        for other, array in (also or {}).items():
            with archive.open(f"{other}.npy", "w") as member:
                np.lib.format.write_array(member, array)
    return path


def test_load_of_a_damaged_archive_names_the_path_and_the_problem(tmp_path):
    path = nn.Linear(2, 1, rng=0).save(tmp_path / "model.npz")
    raw = bytearray(path.read_bytes())
    start = raw.index(b"\x93NUMPY")  # the first member's .npy data follows its 128-byte header
    raw[start + 128] ^= 0xFF
    path.write_bytes(bytes(raw))
    model = nn.Linear(2, 1, rng=1)
    before = _snapshot(model)
    with pytest.raises(nn.StateDictError, match=r"model\.npz.*damaged.*Bad CRC-32"):
        model.load(path)
    _assert_unchanged(model, before)


@pytest.mark.parametrize("where", ["/dev/null", "empty"])
def test_load_of_an_empty_file_is_a_state_dict_error(tmp_path, where):
    import os

    if where == "/dev/null" and not os.path.exists(where):
        pytest.skip("no /dev/null here")
    path = where if where == "/dev/null" else tmp_path / "empty.npz"
    if where == "empty":
        path.write_bytes(b"")
    with pytest.raises(nn.StateDictError, match=r"not a parameter file written by Module\.save.*empty"):
        nn.Linear(2, 1).load(path)


def test_load_checks_declared_shapes_before_reading_any_data(tmp_path):
    import tracemalloc

    # 3.2 GB declared in a few hundred bytes: a zip bomb must not make load allocate it
    path = _npz_with_header(
        tmp_path / "bomb.npz",
        "weight",
        {"descr": "<f8", "fortran_order": False, "shape": (400_000_000,)},
        also={"bias": np.zeros(1)},
    )
    assert path.stat().st_size < 10_000
    model = nn.Linear(2, 1, rng=0)
    before = _snapshot(model)
    tracemalloc.start()
    try:
        with pytest.raises(nn.StateDictError, match=r"weight: shape \(400000000,\) in the state, \(1, 2\) in the model"):
            model.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000, f"load allocated {peak} bytes for a file of {path.stat().st_size}"
    _assert_unchanged(model, before)
    # strict=False skips an unexpected entry without reading it, however large it claims to be
    extra = _npz_with_header(
        tmp_path / "extra.npz",
        "extra",
        {"descr": "<f8", "fortran_order": False, "shape": (400_000_000,)},
        also={"weight": np.ones((1, 2)), "bias": np.ones(1)},
    )
    tracemalloc.start()
    try:
        model.load(extra, strict=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000 and model.weight.numpy().tolist() == [[1.0, 1.0]]


def test_load_rejects_a_member_shorter_than_its_header_declares(tmp_path):
    path = _npz_with_header(
        tmp_path / "short.npz",
        "weight",
        {"descr": "<f8", "fortran_order": False, "shape": (1, 2)},
        data=b"\0" * 8,  # one float of the two declared
        also={"bias": np.zeros(1)},
    )
    model = nn.Linear(2, 1, rng=0)
    before = _snapshot(model)
    with pytest.raises(nn.StateDictError, match=r"short\.npz.*declares 16 bytes of data.*holds 8.*truncated"):
        model.load(path)
    _assert_unchanged(model, before)


def test_load_reads_fortran_order_and_big_endian_arrays(tmp_path):
    weight = np.asfortranarray(np.array([[1.0, 2.0], [3.0, 4.0]]).astype(">f8"))
    path = tmp_path / "other.npz"
    np.savez(path, weight=weight, bias=np.array([5.0, 6.0], dtype=np.float32))
    model = nn.Linear(2, 2).load(path)
    assert model.weight.numpy().tolist() == [[1.0, 2.0], [3.0, 4.0]] and model.weight.dtype == np.float64
    assert model.bias.numpy().tolist() == [5.0, 6.0]


def test_state_dict_error_and_load_result_are_nn_names_and_pickle():
    # They are defined with the checkpoint code but belong to nn's public API.
    assert nn.StateDictError.__module__ == nn.LoadResult.__module__ == "tinygrad_gd.nn"
    result = pickle.loads(pickle.dumps(nn.LoadResult(["a"], ["b"])))
    assert result == nn.LoadResult(["a"], ["b"]) and result.missing_keys == ["a"]
    err = pickle.loads(pickle.dumps(nn.StateDictError("cannot load")))
    assert isinstance(err, nn.StateDictError) and str(err) == "cannot load"
