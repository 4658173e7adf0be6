"""skhep_reweight.dask and joblib's Dask backend: real Dask collections, real files, a real
LocalCluster with process workers."""

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

dask = pytest.importorskip("dask")
pd = pytest.importorskip("pandas")
pytest.importorskip("distributed")

import dask.array as da  # noqa: E402
import dask.dataframe as dd  # noqa: E402
from distributed import get_task_stream  # noqa: E402
from sklearn.base import clone  # noqa: E402

import skhep_reweight.dask as skd  # noqa: E402
from skhep_reweight import DCTRReweighter, OTCalibrator  # noqa: E402
from skhep_reweight.datasets import make_correlated_gaussians  # noqa: E402
from skhep_reweight.io import read_events, write_weights  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

COLUMNS = ["pt", "eta", "n"]


def _same_weights(actual, expected):
    """Weights predicted in other batches (partitions, threads, chunks) than ``expected``: the
    same bits on the CPU; on a GPU equal to float32 rounding, since cuBLAS chooses its kernels
    (and so the order of each sum) by the batch size (measured on an H200: 6e-8 relative)."""
    if torch.cuda.is_available():
        np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=0)
    else:
        np.testing.assert_array_equal(actual, expected)


@pytest.fixture(scope="module")
def problem():
    data = make_correlated_gaussians(3000, n_features=3, random_state=0)
    frame = pd.DataFrame(data.X, columns=COLUMNS)
    on_frame = DCTRReweighter(max_epochs=5, random_state=0).fit(frame, data.y)
    on_array = DCTRReweighter(max_epochs=5, random_state=0).fit(data.X, data.y)
    source = frame[data.y == 0].reset_index(drop=True)
    source["w"] = np.linspace(0.5, 1.5, len(source))
    return on_frame, on_array, source


def test_dataframe_and_array_weights_equal_predict_weights_without_a_warning(problem):
    on_frame, on_array, source = problem
    X = source[COLUMNS].to_numpy()
    events = dd.from_pandas(source, npartitions=4)
    array = da.from_array(X, chunks=(700, 2))  # columns split too: rechunked
    with warnings.catch_warnings(), dask.config.set(scheduler="threads", num_workers=2):
        warnings.simplefilter("error")
        by_frame = skd.predict_weights(on_frame, events)
        assert by_frame.name == "weight"
        assert by_frame.npartitions == 4
        _same_weights(by_frame.compute(), on_frame.predict_weights(source[COLUMNS]))
        carried = skd.predict_weights(on_frame, events, sample_weight="w").compute()
        _same_weights(carried, on_frame.predict_weights(source[COLUMNS], sample_weight=source["w"]))
        # a model fitted on arrays gets arrays, one fitted on a DataFrame gets DataFrames
        _same_weights(skd.predict_weights(on_array, array).compute(), on_array.predict_weights(X))
        _same_weights(
            skd.predict_weights(on_frame, array).compute(),
            on_frame.predict_weights(source[COLUMNS]),
        )
        weights = da.from_array(source["w"].to_numpy(), chunks=700)
        _same_weights(
            skd.predict_weights(on_array, array, sample_weight=weights).compute(),
            on_array.predict_weights(X, sample_weight=source["w"].to_numpy()),
        )
        # the index and the partitions are kept
        assert list(by_frame.compute().index) == list(range(len(source)))


def test_one_model_shared_by_four_threads_gives_the_same_weights(problem):
    _, on_array, source = problem
    X = source[COLUMNS].to_numpy()
    expected = on_array.predict_weights(X)
    state = {k: id(v) for k, v in vars(on_array).items()}
    barrier = threading.Barrier(4)

    def work(part):
        barrier.wait()
        return [on_array.predict_weights(X[part::4]) for _ in range(5)]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, range(4)))
    for part, runs in enumerate(results):
        for weights in runs:
            _same_weights(weights, expected[part::4])
    assert {k: id(v) for k, v in vars(on_array).items()} == state  # nothing written
    events = dd.from_pandas(source, npartitions=8)
    with dask.config.set(scheduler="threads", num_workers=4):
        _same_weights(skd.predict_weights(on_array, events[COLUMNS]).compute(), expected)


def test_apply_maps_calibrators_and_keeps_column_names():
    rng = np.random.RandomState(1)
    simulation = rng.normal(0.0, 1.0, size=(600, 2))
    data_rows = rng.normal([0.5, -0.3], [1.2, 0.8], size=(600, 2))
    X = np.vstack([simulation, data_rows])
    y = np.repeat([0, 1], 600)
    ot = OTCalibrator(method="discrete", random_state=0).fit(X, y)
    frame = dd.from_pandas(pd.DataFrame(simulation, columns=["a", "b"]), npartitions=3)
    moved = skd.apply(ot, frame, "transform", output_names=["a", "b"])
    assert list(moved.columns) == ["a", "b"]
    with dask.config.set(scheduler="sync"):
        np.testing.assert_allclose(moved.compute().to_numpy(), ot.transform(simulation), rtol=1e-12)
        array = da.from_array(simulation, chunks=(250, 2))
        np.testing.assert_allclose(
            skd.apply(ot, array, "transform").compute(), ot.transform(simulation), rtol=1e-12
        )


def test_bad_input_names_the_column(problem):
    on_frame, _, source = problem
    events = dd.from_pandas(source.drop(columns="eta"), npartitions=2)
    with pytest.raises(ValueError, match=r"no column\(s\) \['eta'\]"):
        skd.predict_weights(on_frame, events)
    with pytest.raises(ValueError, match="sample_weight: the DataFrame has no column 'x'"):
        skd.predict_weights(on_frame, dd.from_pandas(source, npartitions=2), sample_weight="x")
    with pytest.raises(TypeError, match="Dask DataFrame or a Dask array"):
        skd.predict_weights(on_frame, source)
    with pytest.raises(AttributeError, match="has no method 'transform'"):
        skd.apply(on_frame, dd.from_pandas(source, npartitions=2), "transform")


# ------------------------------------------------------------------------------------- files
def _write_parquet(path, frame):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=400)


def _write_root(path, frame):
    uproot = pytest.importorskip("uproot")
    with uproot.recreate(path) as file:
        tree = file.mktree("Events", {c: "float64" for c in frame.columns})
        tree.extend({c: frame[c].to_numpy() for c in frame.columns})


@pytest.mark.parametrize("suffix", [".parquet", ".root"])
def test_files_to_weights_and_back(problem, tmp_path, suffix):
    pytest.importorskip("pyarrow" if suffix == ".parquet" else "uproot")
    on_frame, _, source = problem
    write = _write_parquet if suffix == ".parquet" else _write_root
    halves = [source.iloc[:1700], source.iloc[1700:]]
    paths = [tmp_path / f"mc{k}{suffix}" for k in range(2)]
    for path, half in zip(paths, halves, strict=True):
        write(path, half)
    before = [p.read_bytes() for p in paths]
    tree = "Events" if suffix == ".root" else None
    events = skd.read_events(paths, COLUMNS, tree=tree, weight="w", chunk_size=600)
    assert events.npartitions == 3 + 3  # 1700 -> 600, 600, 500; 1300 -> 600, 600, 100
    assert list(events.columns) == [*COLUMNS, "w"]
    weights = skd.predict_weights(on_frame, events, sample_weight="w")
    out = tmp_path / f"weights{suffix}"
    with dask.config.set(scheduler="threads", num_workers=2):
        assert skd.write_weights(weights, out, parallel=2) == out
    written, _ = read_events(out, ["weight"], tree=tree)
    expected = on_frame.predict_weights(source[COLUMNS], sample_weight=source["w"])
    _same_weights(written[:, 0], expected)
    assert [p.read_bytes() for p in paths] == before  # inputs untouched


def test_file_errors_are_named_early_and_bad_values_leave_no_output(tmp_path, problem):
    pytest.importorskip("pyarrow")
    on_frame, _, source = problem
    path = tmp_path / "mc.parquet"
    bad = source.copy()
    bad.loc[2500, "pt"] = np.nan
    _write_parquet(path, bad)
    with pytest.raises(ValueError, match="no column 'phi'|'phi'"):
        skd.read_events(path, ["phi"])
    events = skd.read_events(path, COLUMNS, chunk_size=1000)  # values are read later
    weights = skd.predict_weights(on_frame, events)
    out = tmp_path / "weights.parquet"
    with (
        dask.config.set(scheduler="sync"),
        pytest.raises(
            ValueError,
            match=r"column 'pt' of .*mc.parquet' has 1 missing \(null\) values in entries 2000",
        ),
    ):
        skd.write_weights(weights, out, parallel=1)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mc.parquet"]


def test_write_weights_matches_io_for_an_array(tmp_path):
    values = np.linspace(0.1, 2.0, 1000)
    skd.write_weights(da.from_array(values, chunks=300), tmp_path / "a.parquet", parallel=3)
    write_weights(tmp_path / "b.parquet", values)
    a, _ = read_events(tmp_path / "a.parquet", ["weight"])
    b, _ = read_events(tmp_path / "b.parquet", ["weight"])
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- joblib's Dask backend, processes
@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as dask_client,
    ):
        yield dask_client


def test_grid_search_and_bagging_on_a_local_cluster_give_the_sequential_results(client):
    import joblib
    from sklearn.model_selection import GridSearchCV

    from skhep_reweight import BaggingReweighter

    data = make_correlated_gaussians(800, n_features=2, random_state=3)
    grid = {"hidden_layer_sizes": [(4,), (8,)], "learning_rate": [1e-3, 1e-2]}
    base = DCTRReweighter(max_epochs=3, random_state=0, device="cpu")
    sequential = GridSearchCV(base, grid, cv=2).fit(data.X, data.y)
    bagging = BaggingReweighter(base, n_estimators=3, random_state=1)
    alone = bagging.fit(data.X, data.y).predict_weights(data.X[:100])
    with get_task_stream(client) as stream, joblib.parallel_backend("dask"):
        spread = GridSearchCV(base, grid, cv=2, n_jobs=-1).fit(data.X, data.y)
        bagged = bagging.set_params(n_jobs=-1).fit(data.X, data.y).predict_weights(data.X[:100])
    np.testing.assert_array_equal(
        spread.cv_results_["mean_test_score"], sequential.cv_results_["mean_test_score"]
    )
    assert spread.best_params_ == sequential.best_params_
    np.testing.assert_array_equal(bagged, alone)
    # the fits ran as tasks on both process workers (8 grid fits, 1 refit is local, 3 members)
    assert len(stream.data) >= 8 + 3
    assert {task["worker"] for task in stream.data} == set(client.scheduler_info()["workers"])


def test_a_fitted_model_runs_on_process_workers(client, problem):
    on_frame, _, source = problem
    events = dd.from_pandas(source, npartitions=4)
    weights = client.compute(skd.predict_weights(on_frame, events, sample_weight="w")).result()
    np.testing.assert_array_equal(
        weights, on_frame.predict_weights(source[COLUMNS], sample_weight=source["w"])
    )


def test_omnifold_ensemble_on_a_local_cluster_gives_the_sequential_result(client):
    import joblib

    from skhep_reweight import OmniFold
    from skhep_reweight.datasets import make_gaussian_unfolding

    data = make_gaussian_unfolding(1500, random_state=4)
    unfold = OmniFold(
        n_iterations=1,
        n_ensemble=2,
        hidden_layer_sizes=(8,),
        max_epochs=3,
        random_state=0,
        device="cpu",
    )
    arguments = {"X_sim": data.X_sim, "X_gen": data.X_gen}
    alone = unfold.fit(data.X_data, **arguments).weights_
    with joblib.parallel_backend("dask"):
        spread = unfold.set_params(n_jobs=-1).fit(data.X_data, **arguments).weights_
    np.testing.assert_array_equal(spread, alone)


def test_srgn_scan_and_ensemble_on_a_local_cluster_give_the_sequential_result(client):
    import joblib
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    from skhep_reweight import SRGNFitter
    from skhep_reweight.datasets import make_parametrized_gaussian

    nominal = make_parametrized_gaussian(3000, random_state=4)
    data = make_parametrized_gaussian(3000, target_theta=[1.0], random_state=104)
    sim = nominal.y == 0
    gen, reco, measured = nominal.X[sim], nominal.X_sim[sim], data.X_sim[data.y == 1]
    quadratic = make_pipeline(
        StandardScaler(),
        PolynomialFeatures(2, include_bias=False),
        LogisticRegression(solver="newton-cholesky"),
    )
    scan = SRGNFitter(
        nominal.weight_function,
        [(-2.0, 2.0)],
        optimizer="grid",
        grid_points=7,
        refine=False,
        classifier=quadratic,
        random_state=0,
    )
    members = SRGNFitter(
        nominal.weight_function,
        [(-2.0, 2.0)],
        n_ensemble=2,
        classifier=quadratic,
        xtol=1e-2,
        ftol=1e-2,
        random_state=0,
    )
    alone = [f.fit(measured, X_sim=reco, X_gen=gen) for f in (clone(scan), clone(members))]
    with get_task_stream(client) as stream, joblib.parallel_backend("dask"):
        spread = [f.fit(measured, X_sim=reco, X_gen=gen) for f in (clone(scan), clone(members))]
    np.testing.assert_array_equal(spread[0].scan_.objective, alone[0].scan_.objective)
    np.testing.assert_array_equal(spread[1].ensemble_theta_, alone[1].ensemble_theta_)
    assert len(stream.data) >= 7 + 2  # the points of the scan and the members ran as tasks


def test_a_weight_column_is_not_a_feature_and_per_event_theta_is_refused(problem):
    _, on_array, source = problem
    events = dd.from_pandas(source, npartitions=3)  # columns pt, eta, n and the weight w
    with dask.config.set(scheduler="sync"):
        weights = skd.predict_weights(on_array, events, sample_weight="w").compute()
    expected = on_array.predict_weights(
        source[COLUMNS].to_numpy(), sample_weight=source["w"].to_numpy()
    )
    _same_weights(weights, expected)
    with pytest.raises(ValueError, match="theta: give one point"):
        skd.predict_weights(on_array, events[COLUMNS], theta=np.zeros((len(source), 1)))
