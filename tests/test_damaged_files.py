"""A corpus of damaged inputs, generated here: ROOT and parquet files truncated or overwritten in
the middle, model files with flipped bytes, truncated, or with edited headers (nested, oversized,
wrong shapes, bad values, attributes that shadow methods, compressed entries).

Each is read through the public functions (``read_events``, ``iterate_events``,
``EventSource``, ``count_events``, ``load``) and the command line (``apply`` with the damaged
input or model, ``fit`` with the damaged input), in one process of its own that measures the
peak memory of every attempt (``_damage_runner.py``). Every attempt must give the package's
error naming the file (from the command line: exit status 2, at most three lines on stderr,
nothing written), or read values identical to the undamaged file's when the damage hit bytes
the read does not use; a silently different value or any other exception fails the test.

Detection needs redundancy in the file: ROOT baskets compressed with ZLIB (uproot's default),
LZMA or LZ4 carry checksums, and parquet pages carry CRCs when written with page checksums
(the package's own parquet outputs are). The corpus uses those; ``test_what_cannot_be_detected``
shows what happens without them.
"""

import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from skhep_reweight import DamagedFileError, DCTRReweighter, load, save
from skhep_reweight._persist import HEADER_KEY
from skhep_reweight.io import read_events, write_weights

uproot = pytest.importorskip("uproot")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pd = pytest.importorskip("pandas")

N_EVENTS = 3000
COLUMNS = ["pt", "eta"]
TRUNCATIONS = (0.05, 0.3, 0.6, 0.9, 0.99)
N_OVERWRITES = 16  # 16 bytes of 0xAB at this many offsets spread over the file
N_FLIPS = 20  # one byte inverted at this many offsets spread over a model file
MAX_PEAK_MIB = 300


def _events(seed=0):
    rng = np.random.RandomState(seed)
    # values rounded as detector quantities are: the baskets compress, as in real files
    return {
        "pt": np.round(rng.exponential(30.0, N_EVENTS) + 20.0, 2),
        "eta": np.round(rng.normal(0.0, 1.5, N_EVENTS), 3),
        "w": np.round(rng.uniform(0.5, 1.5, N_EVENTS), 3),
    }


def _write_root(path, events):
    with uproot.recreate(path) as file:  # ZLIB: uproot's default compression
        file.mktree("Events", {k: v.dtype for k, v in events.items()})
        for start in range(0, N_EVENTS, 1000):
            file["Events"].extend({k: v[start : start + 1000] for k, v in events.items()})


def _write_parquet(path, events):
    pq.write_table(pa.table(events), path, row_group_size=1000, write_page_checksum=True)


def _damaged(good, folder, stem):
    """Truncated and overwritten copies of ``good``: (name, path) pairs."""
    data = good.read_bytes()
    made = []
    for fraction in TRUNCATIONS:
        path = folder / f"{stem}_trunc{fraction}{good.suffix}"
        path.write_bytes(data[: int(len(data) * fraction)])
        made.append(path)
    for k in range(N_OVERWRITES):
        offset = int((k + 0.5) * (len(data) - 16) / N_OVERWRITES)
        broken = bytearray(data)
        broken[offset : offset + 16] = b"\xab" * 16
        path = folder / f"{stem}_over{offset}{good.suffix}"
        path.write_bytes(bytes(broken))
        made.append(path)
    return made


def _rewrite_header(good, path, edit):
    with np.load(good, allow_pickle=False) as archive:
        entries = {k: archive[k] for k in archive.files}
    header = json.loads(entries[HEADER_KEY].tobytes())
    edit(header, entries)
    entries[HEADER_KEY] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with open(path, "wb") as stream:
        np.savez(stream, **entries)
    return path


def _nested(header, entries):
    value = 1
    for _ in range(400):
        value = {"t": "list", "v": [value]}
    header["estimator"]["params"]["hidden_layer_sizes"] = value


def _huge(header, entries):  # the case: a 5 KB file asking for 2 x 20000 units
    sizes = {"t": "list", "v": [20000, 20000]}
    header["estimator"]["params"]["hidden_layer_sizes"] = sizes
    header["estimator"]["state"]["net_"]["module_kwargs"]["hidden_layer_sizes"] = sizes


def _tensor(header, entries, value):
    key = header["estimator"]["state"]["net_"]["state_dict"][2][1]["key"]
    entries[key] = value


HEADER_EDITS = {
    "nested 400 deep": _nested,
    "layers of 20000 units": _huge,
    "a tensor of the wrong shape": lambda h, e: _tensor(h, e, np.zeros((7, 3), np.float32)),
    "a tensor of strings": lambda h, e: _tensor(h, e, np.array(["a", "b"])),
    "a random_state of the wrong form": lambda h, e: h["estimator"]["params"].update(
        random_state={"t": "random_state", "v": {"t": "list", "v": ["MT19937"]}}
    ),
    "a negative random_state": lambda h, e: h["estimator"]["params"].update(random_state=-5),
    "an attribute named predict_weights": lambda h, e: h["estimator"]["state"].update(
        predict_weights=3
    ),
    "an attribute named __class__": lambda h, e: h["estimator"]["state"].update(__class__=3),
    "an unknown parameter": lambda h, e: h["estimator"]["params"].update(hidden_layer_size=3),
    "a class outside the allow-list": lambda h, e: h["estimator"].update({"class": "os.system"}),
    "a module outside the allow-list": lambda h, e: h["estimator"]["state"]["net_"].update(
        module="subprocess.Popen"
    ),
    "a missing array entry": lambda h, e: h["estimator"]["state"]["feature_range_"].update(
        key="a999"
    ),
    "an unknown value tag": lambda h, e: h["estimator"]["state"].update(
        n_clipped_={"t": "pickle", "v": "cos\nsystem"}
    ),
    "a header that is a list": lambda h, e: h["estimator"].update(t="list", v="x"),
    "no format name": lambda h, e: h.pop("format"),
}


def _model_corpus(folder, good):
    made = []
    data = good.read_bytes()
    for k in range(N_FLIPS):
        offset = int((k + 0.5) * len(data) / N_FLIPS)
        broken = bytearray(data)
        broken[offset] ^= 0xFF
        path = folder / f"flip{offset}.skrw"
        path.write_bytes(bytes(broken))
        made.append(path)
    for fraction in TRUNCATIONS:
        path = folder / f"trunc{fraction}.skrw"
        path.write_bytes(data[: int(len(data) * fraction)])
        made.append(path)
    for k, (_, edit) in enumerate(HEADER_EDITS.items()):
        made.append(_rewrite_header(good, folder / f"edit{k}.skrw", edit))
    # a compressed entry (a zip bomb would be one): refused before it is read
    bomb = folder / "compressed.skrw"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(bomb, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info), zipfile.ZIP_DEFLATED)
    made.append(bomb)
    return made


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    events = _events()
    good_root, good_parquet = folder / "good.root", folder / "good.parquet"
    _write_root(good_root, events)
    _write_parquet(good_parquet, events)
    frame = pd.DataFrame({c: events[c] for c in COLUMNS})
    model = DCTRReweighter(hidden_layer_sizes=(8,), max_epochs=2, random_state=0, device="cpu")
    model.fit_samples(frame, frame * 1.1)
    good_model = save(model, folder / "good.skrw")
    table = np.column_stack([frame.to_numpy(), events["w"]])
    expected = {
        "table": table,
        "count": np.array([N_EVENTS]),
        "probe": model.predict_weights(frame.iloc[:50]),
        "applied": model.predict_weights(frame),
    }
    probe = frame.to_numpy()[:50]
    files = {
        "root": _damaged(good_root, folder, "root"),
        "parquet": _damaged(good_parquet, folder, "pq"),
    }
    models = _model_corpus(folder, good_model)
    return {
        "folder": folder,
        "files": files,
        "models": models,
        "good": {"root": good_root, "parquet": good_parquet, "model": good_model},
        "probe": probe,
        "expected": expected,
    }


def _fit_config(folder, source, k):
    tree = 'tree = "Events"' if source.suffix == ".root" else ""
    good = "good.root" if source.suffix == ".root" else "good.parquet"
    text = f"""
        [source]
        path = "{source.name}"
        {tree}
        [target]
        path = "{good}"
        {tree}
        [features]
        columns = ["pt", "eta"]
        [estimator]
        name = "DCTRReweighter"
        params = {{ hidden_layer_sizes = [4], max_epochs = 1, random_state = 0, device = "cpu" }}
        [output]
        model = "fit{k}/model.skrw"
        report = "fit{k}/report"
    """
    path = folder / f"fit{k}.toml"
    path.write_text(textwrap.dedent(text))
    return path


def _plan(corpus):
    folder, attempts = corpus["folder"], []
    for fmt, paths in corpus["files"].items():
        tree = "Events" if fmt == "root" else None
        for path in paths:
            for kind in ("read_events", "iterate_events", "EventSource"):
                attempts.append(
                    {"kind": kind, "path": str(path), "columns": COLUMNS, "tree": tree,
                     "weight": "w", "expected": "table"}
                )  # fmt: skip
            attempts.append(
                {"kind": "count_events", "path": str(path), "columns": COLUMNS, "tree": tree,
                 "weight": None, "expected": "count"}
            )  # fmt: skip
            out = folder / f"out_{len(attempts)}" / "w.parquet"
            out.parent.mkdir()
            tree_args = ["--tree", "Events"] if tree else []
            attempts.append(
                {"kind": "cli", "path": str(path), "output": str(out), "expected": "applied",
                 "args": ["apply", str(corpus["good"]["model"]), str(path), "-o", str(out),
                          *tree_args, "--quiet"]}
            )  # fmt: skip
            if "trunc" in path.name:  # fit: the damaged file as the source sample
                k = len(attempts)
                config = _fit_config(folder, path, k)
                attempts.append(
                    {"kind": "cli", "path": str(path), "output": str(folder / f"fit{k}"),
                     "expected": "applied", "args": ["fit", str(config), "--quiet"]}
                )  # fmt: skip
    for path in corpus["models"]:
        attempts.append(
            {
                "kind": "load",
                "path": str(path),
                "probe": corpus["probe"].tolist(),
                "expected": "probe",
            }
        )
        out = folder / f"out_{len(attempts)}" / "w.parquet"
        out.parent.mkdir()
        args = ["apply", str(path), str(corpus["good"]["parquet"]), "-o", str(out), "--quiet"]
        attempts.append(
            {"kind": "cli", "path": str(path), "output": str(out), "expected": "applied",
             "args": args}
        )  # fmt: skip
    for k, attempt in enumerate(attempts):
        attempt["id"] = k
    return attempts


@pytest.fixture(scope="module")
def outcomes(corpus):
    folder = corpus["folder"]
    expected = {}
    for key, value in corpus["expected"].items():
        np.save(folder / f"expected_{key}.npy", value)
        expected[key] = str(folder / f"expected_{key}.npy")
    attempts = _plan(corpus)
    plan = folder / "plan.json"
    plan.write_text(json.dumps({"attempts": attempts, "expected": expected}))
    result = folder / "result.json"
    runner = Path(__file__).with_name("_damage_runner.py")
    done = subprocess.run(
        [sys.executable, str(runner), str(plan), str(result)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return attempts, json.loads(result.read_text())


def test_every_damaged_input_gives_the_packages_error_or_its_true_values(outcomes):
    attempts, results = outcomes
    wrong = [
        (attempts[r["id"]]["kind"], Path(attempts[r["id"]]["path"]).name, r["detail"])
        for r in results
        if r["outcome"] not in ("error", "intact")
    ]
    assert wrong == []
    counts = {}
    for attempt, result in zip(attempts, results, strict=True):
        group = "model" if attempt["path"].endswith(".skrw") else Path(attempt["path"]).suffix
        counts.setdefault(group, {"error": 0, "intact": 0})[result["outcome"]] += 1
    # every edited header is an error, and every full read of a truncated file
    # reading every column of a truncated file fails (the count of a ROOT tree is in its header,
    # and a command that reads two of the three branches may find them whole: those are intact)
    intact = [
        (a["kind"], Path(a["path"]).name)
        for a, r in zip(attempts, results, strict=True)
        if "trunc" in Path(a["path"]).name
        and r["outcome"] != "error"
        and a["kind"] in ("read_events", "iterate_events", "EventSource")
    ]
    assert intact == []
    edited = [r for a, r in zip(attempts, results, strict=True) if "edit" in Path(a["path"]).name]
    assert len(edited) == 2 * len(HEADER_EDITS)
    assert all(r["outcome"] == "error" for r in edited)
    for count in counts.values():  # damage in bytes a read uses is found
        assert count["error"] > count["intact"] / 2
    print("damaged-input corpus:", json.dumps(counts))


def test_no_attempt_allocates_more_than_300_mib(outcomes):
    attempts, results = outcomes
    peaks = {Path(attempts[r["id"]]["path"]).name: r["peak_mib"] for r in results}
    largest = sorted(peaks.items(), key=lambda kv: -kv[1])[:3]
    assert largest[0][1] < MAX_PEAK_MIB, largest
    print("largest peaks (MiB):", [(name, round(mib, 1)) for name, mib in largest])


def test_damaged_root_file_from_a_process_of_its_own(corpus, tmp_path, command_line):
    # the case as a user meets it: a truncated file, exit status 2 and one line
    damaged = next(p for p in corpus["files"]["root"] if "trunc0.6" in p.name)
    done = command_line.run(
        "apply", corpus["good"]["model"], damaged, "-o", tmp_path / "w.root", "--tree",
        "Events", "--quiet", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert f"cannot read '{damaged}'" in done.stderr
    assert "entries" in done.stderr
    assert "damaged" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_truncated_model_is_not_advised_to_be_unpickled(corpus, tmp_path):
    from skhep_reweight._cli import main

    truncated = next(p for p in corpus["models"] if p.name.startswith("trunc0.6"))
    args = ["apply", str(truncated), str(corpus["good"]["parquet"]), "-o", str(tmp_path / "w.pq")]
    for extra in ([], ["--allow-pickle"]):
        with pytest.raises(DamagedFileError, match="damaged or truncated"):
            load(truncated)
        assert main([*args, *extra, "--quiet"]) == 2
    assert main(["apply", str(tmp_path), str(corpus["good"]["parquet"]), "-o",
                 str(tmp_path / "w.pq")]) == 2  # fmt: skip


def test_a_folder_as_the_model_says_so(corpus, tmp_path, capsys):
    from skhep_reweight._cli import main

    status = main(["apply", str(tmp_path), str(corpus["good"]["parquet"]), "-o",
                   str(tmp_path / "w.parquet"), "--quiet"])  # fmt: skip
    assert status == 2
    assert "is a folder, not a model file" in capsys.readouterr().err


def test_written_parquet_pages_carry_checksums_that_reading_verifies(tmp_path):
    path = write_weights(tmp_path / "w.parquet", np.linspace(0.5, 1.5, 20_000))
    metadata = pq.ParquetFile(path).metadata
    data = bytearray(path.read_bytes())
    # a byte in the middle of the first data page
    start = metadata.row_group(0).column(0).data_page_offset
    data[start + 2000] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(DamagedFileError, match="w.parquet.*damaged"):
        read_events(path, ["weight"])


def test_what_cannot_be_detected(tmp_path):
    # without redundancy a changed value is a valid value: a parquet page without checksums,
    # or a ROOT basket stored uncompressed, reads back with the new number and no error. The
    # documentation (files and the command line) says so; this test keeps that statement true.
    values = np.linspace(0.5, 1.5, 2000)
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"w": values}), plain, compression="none", write_page_checksum=False)
    root = tmp_path / "plain.root"
    with uproot.recreate(root, compression=None) as file:
        file.mktree("Events", {"w": np.float64})
        file["Events"].extend({"w": values})
    for path, tree in ((plain, None), (root, "Events")):
        data = bytearray(path.read_bytes())
        position = bytes(data).find(np.float64(values[1000]).tobytes()[:: -1 if tree else 1])
        assert position > 0
        data[position + 3] ^= 0x10
        path.write_bytes(bytes(data))
        read, _ = read_events(path, ["w"], tree=tree)
        assert np.count_nonzero(read[:, 0] != values) == 1  # silently different
