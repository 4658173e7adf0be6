"""skhep_reweight.io: reading ROOT and parquet files whole and in chunks, writing weights.

Every file is written here, into tmp_path, with uproot (ROOT) or pyarrow (parquet); a test that
needs one of them is skipped when it is missing, the others still run.
"""

import hashlib
import os
import sys

import numpy as np
import pytest

from skhep_reweight.io import (
    WeightWriter,
    count_events,
    iterate_events,
    read_events,
    write_weights,
)

N_EVENTS = 1003  # a prime: no chunk size below divides it
SUFFIX = {"root": ".root", "parquet": ".parquet"}
LIBRARY = {"root": "uproot", "parquet": "pyarrow"}


# ----------------------------------------------------------------------------- file builders


def make_data(n=N_EVENTS, seed=0):
    """Columns of every dtype the readers convert: float64, float32, int32, uint8, bool."""
    rng = np.random.default_rng(seed)
    return {
        "pt": rng.exponential(30.0, n) + 20.0,
        "eta": rng.normal(0.0, 1.5, n).astype(np.float32),
        "njets": rng.integers(0, 8, n).astype(np.int32),
        "nb": rng.integers(0, 3, n).astype(np.uint8),
        "tight": rng.random(n) < 0.3,
        "w": rng.normal(1.0, 0.5, n),  # some negative, as sWeights
    }


def write_root(path, data, tree="Events"):
    import uproot

    with uproot.recreate(path) as file:
        # mktree: a TTree (file[tree] = {...} writes an RNTuple in uproot >= 5.7)
        file.mktree(tree, {k: v.dtype for k, v in data.items()})
        if len(next(iter(data.values()))):
            file[tree].extend(data)
    return path


def write_parquet(path, data, row_group_size=None):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(data), path, row_group_size=row_group_size)
    return path


def write_file(fmt, path, data):
    """ROOT, or parquet in row groups of 130 events (not a divisor of any chunk size used)."""
    if fmt == "root":
        return write_root(path, data)
    return write_parquet(path, data, row_group_size=130)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(params=["root", "parquet"])
def fmt(request):
    pytest.importorskip(LIBRARY[request.param])
    return request.param


@pytest.fixture
def events(fmt, tmp_path):
    """(format, path, data) of a file of N_EVENTS events."""
    data = make_data()
    path = write_file(fmt, tmp_path / f"mc{SUFFIX[fmt]}", data)
    return fmt, path, data


def expected(data, columns):
    return np.column_stack([data[c].astype(np.float64) for c in columns])


# ------------------------------------------------------------------------------------ reading


def test_read_round_trip_values_order_dtypes(events):
    fmt, path, data = events
    before = digest(path)
    columns = ["njets", "pt", "tight", "eta", "nb"]  # not the file's order
    X, w = read_events(path, columns, weight="w")
    assert X.dtype == np.float64
    assert w.dtype == np.float64
    assert X.shape == (N_EVENTS, 5)
    assert X.flags.c_contiguous
    # exact: every stored value is exactly representable in float64
    np.testing.assert_array_equal(X, expected(data, columns))
    np.testing.assert_array_equal(w, data["w"])
    assert w.flags.writeable
    X2, w2 = read_events(path, ["pt"])
    assert w2 is None
    np.testing.assert_array_equal(X2[:, 0], data["pt"])
    assert digest(path) == before  # reading never modifies the input


def test_weight_may_also_be_a_feature(events):
    _, path, data = events
    X, w = read_events(path, ["w", "pt"], weight="w")
    np.testing.assert_array_equal(X[:, 0], w)
    np.testing.assert_array_equal(w, data["w"])


def test_read_pandas(events):
    pd = pytest.importorskip("pandas")
    _, path, data = events
    columns = ["pt", "njets"]
    frame, w = read_events(path, columns, weight="w", library="pd")
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == columns
    assert (frame.dtypes == np.float64).all()
    np.testing.assert_array_equal(frame.to_numpy(), expected(data, columns))
    np.testing.assert_array_equal(w, data["w"])
    part, _ = read_events(path, columns, library="pd", entry_start=10, entry_stop=13)
    assert list(part.index) == [10, 11, 12]  # the index holds the entry numbers


@pytest.mark.parametrize(
    ("start", "stop"),
    [(0, None), (129, 131), (130, 390), (500, 501), (-3, None), (1000, 5000), (7, 7), (9, 3)],
)
def test_entry_range(events, start, stop):
    _, path, data = events
    X, w = read_events(path, ["pt", "njets"], weight="w", entry_start=start, entry_stop=stop)
    window = slice(start, stop)
    np.testing.assert_array_equal(X, expected(data, ["pt", "njets"])[window])
    np.testing.assert_array_equal(w, data["w"][window])


@pytest.mark.parametrize("chunk_size", [97, 130, 400, N_EVENTS, 5000])
def test_iterate_equals_one_piece(events, chunk_size):
    _, path, data = events
    columns = ["eta", "pt", "tight"]
    chunks = list(iterate_events(path, columns, weight="w", chunk_size=chunk_size))
    sizes = [len(X) for X, _ in chunks]
    # every chunk full except the last, whatever the row groups (130) of the parquet file
    n_full, rest = divmod(N_EVENTS, chunk_size)
    assert sizes == [chunk_size] * n_full + ([rest] if rest else [])
    X_all, w_all = read_events(path, columns, weight="w")
    np.testing.assert_array_equal(np.concatenate([X for X, _ in chunks]), X_all)
    np.testing.assert_array_equal(np.concatenate([w for _, w in chunks]), w_all)
    assert all(X.dtype == np.float64 and w.dtype == np.float64 for X, w in chunks)


def test_parquet_chunks_do_not_follow_pyarrow_batches():
    """pyarrow may end a batch early (at a row group, in some versions): chunks are regrouped."""
    pa = pytest.importorskip("pyarrow")
    from skhep_reweight.io._parquet import ParquetTable

    values = np.arange(20.0)
    edges = [0, 3, 4, 4, 11, 13, 20]  # batches of 3, 1, 0, 7, 2 and 7 events

    class Batches:
        metadata = type("Metadata", (), {"num_rows": 20})()

        def iter_batches(self, batch_size, columns):
            for a, b in zip(edges[:-1], edges[1:], strict=True):
                yield pa.record_batch({"x": values[a:b]})

    chunks = list(ParquetTable("stub.parquet", Batches()).iterate(["x"], chunk_size=5))
    assert [len(c["x"]) for c in chunks] == [5, 5, 5, 5]
    np.testing.assert_array_equal(np.concatenate([c["x"] for c in chunks]), values)


def test_iterate_pandas_index_continues(events):
    pd = pytest.importorskip("pandas")
    _, path, _ = events
    chunks = [X for X, _ in iterate_events(path, ["pt"], chunk_size=300, library="pd")]
    assert [X.index[0] for X in chunks] == [0, 300, 600, 900]
    whole, _ = read_events(path, ["pt"], library="pd")
    pd.testing.assert_frame_equal(pd.concat(chunks), whole, check_index_type=False)


def test_count_events(events, tmp_path):
    fmt, path, _ = events
    assert count_events(path) == N_EVENTS
    empty = write_file(fmt, tmp_path / f"empty{SUFFIX[fmt]}", make_data(n=0))
    assert count_events(empty) == 0
    X, w = read_events(empty, ["pt"], weight="w")
    assert X.shape == (0, 1)
    assert w.shape == (0,)
    assert list(iterate_events(empty, ["pt"])) == []


def test_read_rntuple(tmp_path):
    """uproot >= 5.7 writes RNTuples by default; they read like trees, jagged fields refused."""
    uproot = pytest.importorskip("uproot")
    awkward = pytest.importorskip("awkward")
    path = tmp_path / "ntuple.root"
    with uproot.recreate(path) as file:
        file["Events"] = {
            "x": np.arange(5.0),
            "n": np.arange(5, dtype=np.int16),
            "jets": awkward.Array([[1.0], [], [2.0, 3.0], [], [4.0]]),
        }
    X, _ = read_events(path, ["n", "x"], entry_start=1)
    np.testing.assert_array_equal(X, [[1, 1], [2, 2], [3, 3], [4, 4]])
    with pytest.raises(ValueError, match=r"branch 'jets' .*jagged"):
        read_events(path, ["jets"])


# ------------------------------------------------------------------------------ reading errors


@pytest.mark.parametrize("suffix", [".root", ".parquet"])
def test_missing_file(tmp_path, suffix):
    missing = tmp_path / f"nothing{suffix}"
    with pytest.raises(FileNotFoundError, match="nothing"):
        read_events(missing, ["pt"])
    with pytest.raises(FileNotFoundError, match="nothing"):
        iterate_events(missing, ["pt"])
    with pytest.raises(FileNotFoundError, match="nothing"):
        count_events(missing)


def test_unknown_suffix_and_directory(tmp_path):
    text = tmp_path / "events.csv"
    text.write_text("pt\n1\n")
    with pytest.raises(ValueError, match=r"events\.csv.*suffix must be one of"):
        read_events(text, ["pt"])
    folder = tmp_path / "folder.root"
    folder.mkdir()
    with pytest.raises(ValueError, match="is a directory"):
        read_events(folder, ["pt"])


def test_not_a_root_or_parquet_file(fmt, tmp_path):
    path = tmp_path / f"garbage{SUFFIX[fmt]}"
    path.write_bytes(b"not a file of this format" * 10)
    with pytest.raises(ValueError, match=r"cannot read .*garbage"):
        read_events(path, ["pt"])


def test_tree_errors(tmp_path):
    uproot = pytest.importorskip("uproot")
    data = make_data(n=5)
    two = tmp_path / "two.root"
    with uproot.recreate(two) as file:
        file.mktree("Events", {"pt": np.float64})
        file.mktree("sub/Other", {"pt": np.float64})
        file["hist"] = np.histogram(data["pt"], bins=3)
    with pytest.raises(ValueError, match=r"holds 2 trees \['Events', 'sub/Other'\].*tree="):
        read_events(two, ["pt"])
    with pytest.raises(ValueError, match=r"holds 2 trees"):
        count_events(two)
    message = r"file '.*two\.root' has no tree 'Nope' \(trees: \['Events', 'sub/Other'\]\)"
    with pytest.raises(ValueError, match=message):
        read_events(two, ["pt"], tree="Nope")
    with pytest.raises(ValueError, match=r"'hist' in file .* is a TH1D, not a tree"):
        read_events(two, ["pt"], tree="hist")
    assert read_events(two, ["pt"], tree="sub/Other")[0].shape == (0, 1)
    none = tmp_path / "none.root"
    with uproot.recreate(none) as file:
        file["hist"] = np.histogram(data["pt"], bins=3)
    with pytest.raises(ValueError, match="holds no tree"):
        read_events(none, ["pt"])


def test_tree_refused_for_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    path = write_parquet(tmp_path / "mc.parquet", make_data(n=5))
    with pytest.raises(ValueError, match="ROOT files only"):
        read_events(path, ["pt"], tree="Events")


def test_missing_branch_or_column_lists_available(events):
    fmt, path, _ = events
    word = "branch" if fmt == "root" else "column"
    pattern = rf"has no {word} 'phi' \({word}e?s: \['pt', 'eta', 'njets', 'nb', 'tight', 'w'\]\)"
    with pytest.raises(ValueError, match=pattern):
        read_events(path, ["pt", "phi"])
    with pytest.raises(ValueError, match=rf"has no {word} 'weight'"):
        iterate_events(path, ["pt"], weight="weight")  # raised at the call, not at next()
    if fmt == "root":
        with pytest.raises(ValueError, match=r"tree 'Events' of '.*mc\.root' has no branch"):
            read_events(path, ["phi"])


def test_many_columns_listed_by_closest_match(fmt, tmp_path):
    data = {f"var{i}": np.zeros(3) for i in range(40)}
    path = write_file(fmt, tmp_path / f"wide{SUFFIX[fmt]}", data)
    with pytest.raises(ValueError, match=r"\(40 \w+; closest: \['var17'"):
        read_events(path, ["var17x"])


@pytest.mark.parametrize("column", ["w", "pt"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_values_are_refused(fmt, tmp_path, column, bad):
    data = make_data()
    data[column][[700, 701, 1002]] = bad
    path = write_file(fmt, tmp_path / f"bad{SUFFIX[fmt]}", data)
    before = digest(path)

    def counts(n):
        return rf"holds {n if np.isnan(bad) else 0} NaN and {0 if np.isnan(bad) else n} infinite"

    label = "weight " if column == "w" else ""
    message = rf"{label}\w+ '{column}' .*{counts(3)} .*entries 0 to 1002 \(the first at entry 700\)"
    with pytest.raises(ValueError, match=message):
        read_events(path, ["pt", "eta"], weight="w")
    # chunked: the chunks before the damaged one arrive, then the error names its entries
    chunks = iterate_events(path, ["pt"], weight="w", chunk_size=400)
    X, w = next(chunks)
    assert len(X) == 400
    with pytest.raises(ValueError, match=rf"'{column}' .*{counts(2)} .*entries 400 to 799"):
        next(chunks)
    assert digest(path) == before
    # outside the damaged entries the file reads
    X, w = read_events(path, ["pt"], weight="w", entry_stop=700)
    assert np.isfinite(X).all()
    assert np.isfinite(w).all()
    assert len(w) == 700


def test_parquet_nulls_are_refused(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({"pt": pa.array([1.0, None, 3.0]), "n": [1, 2, 3]}), path)
    with pytest.raises(ValueError, match=r"column 'pt' .* 1 missing \(null\) values"):
        read_events(path, ["n", "pt"])
    np.testing.assert_array_equal(read_events(path, ["n"])[0][:, 0], [1.0, 2.0, 3.0])


def test_jagged_and_non_numeric_branches_are_refused(tmp_path):
    uproot = pytest.importorskip("uproot")
    awkward = pytest.importorskip("awkward")
    path = tmp_path / "jagged.root"
    with uproot.recreate(path) as file:
        file.mktree("Events", {"pt": "float64", "jet_pt": "var * float64", "p3": ("f8", (3,))})
        file["Events"].extend(
            {
                "pt": np.arange(3.0),
                "jet_pt": awkward.Array([[30.0, 20.0], [], [50.0]]),
                "p3": np.ones((3, 3)),
            }
        )
    with pytest.raises(ValueError, match=r"branch 'jet_pt' of tree 'Events' .* is jagged"):
        read_events(path, ["pt", "jet_pt"])
    with pytest.raises(ValueError, match=r"branch 'p3' .* holds \(3,\) values per event"):
        read_events(path, ["p3"])
    with pytest.raises(ValueError, match=r"branch 'jet_pt' .* is jagged"):
        iterate_events(path, ["pt"], weight="jet_pt")
    np.testing.assert_array_equal(read_events(path, ["pt"])[0][:, 0], [0.0, 1.0, 2.0])


def test_jagged_and_non_numeric_columns_are_refused(tmp_path):
    pa = pytest.importorskip("pyarrow")
    path = tmp_path / "jagged.parquet"
    table = {
        "pt": [1.0, 2.0],
        "jets": pa.array([[1.0, 2.0], []]),
        "label": ["a", "b"],
        "p2": pa.array([[1.0, 2.0], [3.0, 4.0]], pa.list_(pa.float64(), 2)),
    }
    write_parquet(path, table)
    with pytest.raises(ValueError, match=r"column 'jets' of .* is jagged"):
        read_events(path, ["pt", "jets"])
    with pytest.raises(ValueError, match=r"column 'label' of .* is not numeric"):
        read_events(path, ["label"])
    with pytest.raises(ValueError, match=r"column 'p2' of .* holds 2 values per event"):
        read_events(path, ["p2"])


def test_argument_errors(events):
    _, path, _ = events
    with pytest.raises(TypeError, match="columns must be a list"):
        read_events(path, "pt")
    with pytest.raises(ValueError, match="at least one column"):
        read_events(path, [])
    with pytest.raises(ValueError, match=r"columns lists \['pt'\] more than once"):
        read_events(path, ["pt", "eta", "pt"])
    with pytest.raises(ValueError, match="library must be one of"):
        read_events(path, ["pt"], library="ak")
    with pytest.raises(TypeError, match="entry_start"):
        read_events(path, ["pt"], entry_start=1.5)
    with pytest.raises(ValueError, match="chunk_size must be at least 1"):
        iterate_events(path, ["pt"], chunk_size=0)
    with pytest.raises(TypeError, match="weight must be a string"):
        read_events(path, ["pt"], weight=3)


# ----------------------------------------------------------------------------- missing extras


@pytest.mark.parametrize(
    ("suffix", "blocked", "hint"),
    [
        (".root", ["uproot"], r"needs uproot: pip install 'skhep_reweight\[root\]'"),
        (".parquet", ["pyarrow", "pyarrow.parquet"], r"needs pyarrow: .*\[parquet\]"),
    ],
)
def test_missing_library_names_the_extra(tmp_path, monkeypatch, suffix, blocked, hint):
    path = tmp_path / f"events{suffix}"
    path.write_bytes(b"0")
    for module in blocked:
        monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    with pytest.raises(ImportError, match=hint):
        read_events(path, ["pt"])
    with pytest.raises(ImportError, match=hint):
        WeightWriter(tmp_path / f"out{suffix}").__enter__()
    assert sorted(os.listdir(tmp_path)) == [f"events{suffix}"]  # no temporary left


def test_missing_pandas(events, monkeypatch):
    _, path, _ = events
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="library='pd' needs pandas"):
        read_events(path, ["pt"], library="pd")


# ------------------------------------------------------------------------------------ writing


def read_back(fmt, path, name="weight", tree="Events"):
    """The written column, read with the libraries themselves (not with skhep_reweight.io)."""
    if fmt == "root":
        import uproot

        with uproot.open(path) as file:
            assert file.classnames(cycle=False)[tree] == "TTree"  # a friend needs a TTree
            branches = file[tree].keys()
            assert branches == [name]
            return file[tree][name].array(library="np")
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    assert table.column_names == [name]
    assert str(table.schema.field(name).type) == "double"
    return table.column(name).to_numpy()


def test_weight_writer_round_trip(fmt, tmp_path):
    weights = np.random.default_rng(1).normal(1.0, 0.3, N_EVENTS)
    out = tmp_path / f"weights{SUFFIX[fmt]}"
    pieces = [weights[:300], weights[300:300], weights[300:703], list(weights[703:])]
    with WeightWriter(out, name="w_new", tree="Friends", n_events=N_EVENTS) as writer:
        for piece in pieces:
            writer.write(piece)
        assert not out.exists()  # only the temporary exists before the block ends
    assert writer.n_written == N_EVENTS
    values = read_back(fmt, out, name="w_new", tree="Friends")
    assert values.dtype == np.float64
    np.testing.assert_array_equal(values, weights)
    assert sorted(os.listdir(tmp_path)) == [out.name]  # no temporary left
    # write_weights writes the same in one piece
    one = write_weights(tmp_path / f"one{SUFFIX[fmt]}", weights, name="w_new", tree="Friends")
    np.testing.assert_array_equal(read_back(fmt, one, name="w_new", tree="Friends"), weights)


def test_apply_pipeline_friend_has_the_input_entries(events, tmp_path):
    """The CLI's `apply`: input chunks in, one weight per event out; the input is untouched."""
    fmt, path, data = events
    before = digest(path)
    out = tmp_path / f"friend{SUFFIX[fmt]}"
    with WeightWriter(out, n_events=count_events(path)) as writer:
        for X, w in iterate_events(path, ["pt"], weight="w", chunk_size=256):
            writer.write(w * X[:, 0])
    assert count_events(out) == count_events(path) == N_EVENTS
    np.testing.assert_allclose(read_back(fmt, out), data["w"] * data["pt"], rtol=0, atol=0)
    back, _ = read_events(out, ["weight"])
    np.testing.assert_array_equal(back[:, 0], data["w"] * data["pt"])
    assert digest(path) == before


def test_many_small_writes_are_gathered(tmp_path):
    uproot = pytest.importorskip("uproot")
    out = tmp_path / "w.root"
    with WeightWriter(out) as writer:
        for i in range(2000):
            writer.write([float(i)])
    with uproot.open(out) as file:
        branch = file["Events"]["weight"]
        assert branch.num_baskets == 1  # not one basket per write
        np.testing.assert_array_equal(branch.array(library="np"), np.arange(2000.0))


def test_empty_total_gives_a_valid_empty_file(fmt, tmp_path):
    out = tmp_path / f"empty{SUFFIX[fmt]}"
    with WeightWriter(out, n_events=0):
        pass
    assert read_back(fmt, out).shape == (0,)
    assert count_events(out) == 0


def test_exception_in_block_leaves_nothing(fmt, tmp_path):
    out = tmp_path / f"weights{SUFFIX[fmt]}"
    with pytest.raises(RuntimeError, match="boom"), WeightWriter(out) as writer:  # noqa: PT012
        writer.write(np.ones(100_000))  # flushed: the temporary holds data
        raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []
    # an existing file is left as it was
    old = write_weights(out, np.arange(3.0))
    before = digest(old)
    with pytest.raises(KeyboardInterrupt), WeightWriter(out) as writer:  # noqa: PT012
        writer.write(np.ones(10))
        raise KeyboardInterrupt
    assert digest(old) == before
    assert os.listdir(tmp_path) == [out.name]
    # and replaced on a clean exit
    write_weights(out, np.arange(5.0))
    np.testing.assert_array_equal(read_back(fmt, out), np.arange(5.0))


def test_n_events_mismatch_leaves_nothing(fmt, tmp_path):
    out = tmp_path / f"weights{SUFFIX[fmt]}"
    mismatch = r"9 weights written .* but n_events=10"
    with pytest.raises(ValueError, match=mismatch), WeightWriter(out, n_events=10) as writer:  # noqa: PT012
        writer.write(np.ones(4))
        writer.write(np.ones(5))
    assert os.listdir(tmp_path) == []
    excess = r"11 weights written .* more than n_events=10"
    with pytest.raises(ValueError, match=excess), WeightWriter(out, n_events=10) as writer:  # noqa: PT012
        writer.write(np.ones(6))
        writer.write(np.ones(5))
    assert os.listdir(tmp_path) == []


def test_non_finite_weights_are_not_written(fmt, tmp_path):
    out = tmp_path / f"weights{SUFFIX[fmt]}"
    weights = np.ones(10)
    weights[[3, 8]] = [np.nan, -np.inf]
    message = r"2 NaN or infinite values \(the first at event 13\)"
    with pytest.raises(ValueError, match=message), WeightWriter(out) as writer:  # noqa: PT012
        writer.write(np.ones(10))
        writer.write(weights)
    with pytest.raises(ValueError, match="2 NaN or infinite"):
        write_weights(out, weights)
    assert os.listdir(tmp_path) == []


def test_writer_argument_errors(tmp_path):
    (tmp_path / "out.root").mkdir()
    with pytest.raises(ValueError, match=r"output path .*out\.root' is a directory"):
        WeightWriter(tmp_path / "out.root")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        WeightWriter(tmp_path / "missing" / "w.parquet")
    with pytest.raises(ValueError, match=r"w\.txt.*suffix must be one of"):
        WeightWriter(tmp_path / "w.txt")
    with pytest.raises(ValueError, match="name must not be empty"):
        WeightWriter(tmp_path / "w.root", name="")
    with pytest.raises(ValueError, match="n_events must be non-negative"):
        WeightWriter(tmp_path / "w.root", n_events=-1)
    with pytest.raises(ValueError, match="weights must be 1-D"):
        write_weights(tmp_path / "w.root", np.ones((3, 2)))
    writer = WeightWriter(tmp_path / "w.parquet")
    with pytest.raises(RuntimeError, match="inside its `with` block"):
        writer.write([1.0])
    assert sorted(os.listdir(tmp_path)) == ["out.root"]


def test_writer_is_single_use(fmt, tmp_path):
    writer = WeightWriter(tmp_path / f"w{SUFFIX[fmt]}")
    with writer:
        writer.write([1.0, 2.0])
    with pytest.raises(RuntimeError, match="writes one file"), writer:
        pass
    with pytest.raises(RuntimeError, match="inside its `with` block"):
        writer.write([3.0])
    np.testing.assert_array_equal(read_back(fmt, writer.path), [1.0, 2.0])
