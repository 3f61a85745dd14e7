"""fno / stable-fno end to end on a tiny Kuramoto-Sivashinsky file: burn-in data, the reference
rebuilt from the file, deterministic rollouts, the long-rollout metrics and the refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sciml_core import solve
from sciml_core.autoregressive import rollout
from sciml_core.data.generate import generate
from sciml_core.data.schema import open_h5
from sciml_core.data.specs import load_spec
from sciml_core.data.trajectories import DataConfig, load_trajectories
from sciml_core.errors import ConfigError
from solvers.neural_operator.evaluation import file_reference
from solvers.neural_operator.solver import AutoregressiveNet, increment_std

TINY = {"n_samples": 6, "block_size": 3, "times": {"t_start": 20.0, "t_end": 27.5, "n_t": 31},
        "solver": {"config": {"n": 32, "dt": 0.05}}}


@pytest.fixture(scope="module")
def ks_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ks") / "ks.h5"
    generate(load_spec("ks-l22", TINY), out, progress=False)
    return out


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 2-thread OpenMP conv stalls when other processes hold the cores
    yield
    torch.set_num_threads(threads)


def test_burn_in_discards_the_transient(ks_file: Path, tmp_path: Path) -> None:
    # the stored frames are those of a run from t = 0 whose first 20 time units are dropped
    spec = load_spec("ks-l22", {**TINY, "n_samples": 3, "times": {"t_start": 0.0, "t_end": 27.5, "n_t": 111}})
    generate(spec, tmp_path / "all.h5", progress=False)
    with open_h5(ks_file) as f, open_h5(tmp_path / "all.h5") as g:
        assert np.allclose(f["t"][:], g["t"][80:])
        np.testing.assert_allclose(f["u"][:3], g["u"][:, 80:], atol=1e-6)
        assert not np.allclose(g["u"][:, 0], g["u"][:, 80], atol=0.1)


def test_file_reference_continues_the_stored_trajectories(ks_file: Path) -> None:
    data = load_trajectories(ks_file, DataConfig(n_test=2), torch.device("cpu"), torch.float64)
    stepper, _ = file_reference(data, 40, horizon=8)
    truth = data.denormalise(data.test)
    out = rollout(stepper, truth[:, :1], 30)
    assert torch.allclose(out, truth[:, 1:], atol=1e-5)  # float32 storage of a float64 integration
    strided = load_trajectories(ks_file, DataConfig(n_test=2, x_stride=2), torch.device("cpu"), torch.float64)
    with pytest.raises(ConfigError, match="need data.x_stride = 1"):
        file_reference(strided, 40, horizon=8)


def test_residual_net_predicts_increments_scaled_by_the_data() -> None:
    train = torch.cumsum(torch.ones(2, 5, 1, 4), dim=1)  # every increment is 1: std 0 -> clamped
    assert torch.all(increment_std(train, 2) == 1e-12)
    train = torch.randn(3, 20, 2, 8, generator=torch.Generator().manual_seed(0))
    d = increment_std(train, 1)
    assert d.shape == (1, 2) and torch.allclose(d[0, 0], (train[:, 1:, 0] - train[:, :-1, 0]).std())
    net = AutoregressiveNet(torch.nn.Conv1d(2, 2, 1), 1, d)
    history = train[:, :1]
    y = net(history, torch.zeros(3, 0))
    assert torch.allclose(y, history + d.reshape(1, 1, 2, 1) * net.net(history[:, 0])[:, None])


@pytest.mark.parametrize("solver", ["fno", "stable-fno"])
def test_trains_rolls_out_and_reports_the_long_rollout_metrics(ks_file: Path, tmp_path: Path, solver: str) -> None:
    overrides = ["long.steps=60", "long.truth_steps=40", "long.chunk=25"]
    result = solve("kuramoto-sivashinsky", solver, preset="quick", data=ks_file, out=tmp_path / "run",
                   device="cpu", progress=False, overrides=overrides)
    m = result.metrics
    assert m["solver"] == solver and m["n_test"] == 2 and m["params"] > m["n_params"] > 0  # complex counted twice
    assert 0 < m["one_step_rel_l2"] < 1
    long = m["long"]
    assert long["rollout_steps"] == 60 and long["truth_steps"] == 40 and long["n_initial_conditions"] == 2
    assert len(long["rel_l2_per_step"]) == 40 and 0 <= m["valid_steps"] <= 40
    assert 0 <= m["chaos_valid_steps"] <= 40 and m["spectrum_log_err"] >= 0
    assert len(long["spectrum_true"]) == 17 and m["blowup_step"] is None
    for name in ("rollout_rel_l2.png", "spectrum.png"):
        assert (tmp_path / "run" / "plots" / name).stat().st_size > 0


def test_rollouts_are_deterministic(ks_file: Path, tmp_path: Path) -> None:
    from sciml_core.config import build_config
    from sciml_core.operator import to_device_dtype
    from sciml_core.registry import get_pde, get_solver
    from sciml_core.solver import RunContext

    cls = get_solver("stable-fno")
    cfg = build_config(cls.Config, cls.preset_config("quick", "kuramoto-sivashinsky"))
    op = cls(get_pde("kuramoto-sivashinsky").from_params(), cfg, RunContext(data=ks_file))
    data = load_trajectories(ks_file, cfg.data, torch.device("cpu"), torch.float32)
    torch.manual_seed(0)
    model = to_device_dtype(op.build_model(data), torch.device("cpu"), torch.float32).eval()
    stepper = op.physical_stepper(model, data, data.test_params)
    initial = data.denormalise(data.test[:, :1])
    first, second = rollout(stepper, initial, 50), rollout(stepper, initial.clone(), 50)
    assert torch.equal(first, second) and torch.isfinite(first).all()


def test_refusals_name_the_problem(ks_file: Path) -> None:
    with pytest.raises(ConfigError, match="float32 only: neuraloperator 2.0's SpectralConv"):
        solve("kuramoto-sivashinsky", "fno", preset="quick", data=ks_file, device="cpu", dtype="float64",
              progress=False)
    with pytest.raises(ConfigError, match="give its dataset file with --data"):
        solve("kuramoto-sivashinsky", "stable-fno", preset="quick", device="cpu", progress=False)
    with pytest.raises(ConfigError, match="long.steps and long.truth_steps must be >= 0"):
        solve("kuramoto-sivashinsky", "stable-fno", preset="quick", data=ks_file, device="cpu", progress=False,
              overrides=["long.steps=-1"])


def test_benchmark_quick_in_two_parts_merges_into_the_issue_keys(tmp_path: Path) -> None:
    # the full run is made in processes of one core each and merged; the quick run splits each dataset's
    # two models and the ablation over two processes
    import json
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    script = [sys.executable, str(repo / "benchmarks" / "stable_vs_vanilla_fno.py")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(repo)}
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    both = ["--quick", "--datasets", "ks-l22", "rd-spiral-rollout"]
    procs = [subprocess.Popen([*script, *both, "--models", "fno", "--ablation", "radial_truncation", "bounded_filter",
                               "fourier_nonlinearity", "--part", str(a)], cwd=repo, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
             subprocess.Popen([*script, *both, "--models", "stable-fno", "--ablation", "output_filter", "spectral_norm",
                               "residual_mlp", "--part", str(b)], cwd=repo, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
    result = repo / "benchmarks" / "results" / "stable_vs_vanilla_fno.quick.json"
    for parts, error in (([a, a], "--merge: dataset 'ks-l22' has its vanilla row in more than one part"),
                         ([a], "--merge: dataset 'ks-l22' has no stable row in any part")):
        refused = subprocess.run([*script, "--merge", *map(str, parts)], cwd=repo, env=env, capture_output=True,
                                 text=True, check=False)
        assert refused.returncode == 2 and error in refused.stderr
    proc = subprocess.run([*script, "--merge", str(a), str(b)], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(result.read_text())
    assert [d["name"] for d in results["datasets"]] == ["ks-l22", "rd-spiral-rollout"]
    for entry in results["datasets"]:
        assert entry["n_initial_conditions"] == 4 and entry["rollout_steps"] == 40
        for model in ("vanilla", "stable"):
            assert {"params", "one_step_rel_l2", "valid_steps", "chaos_valid_steps", "blowup_step",
                    "spectrum_log_err"} <= set(entry[model])
        assert abs(entry["params_ratio"] - 1) < 0.1 and "stable_never_blows_up" in entry["targets"]
    ablation = results["ablation_ks"]
    assert [a["switch"] for a in ablation] == ["radial_truncation", "bounded_filter", "fourier_nonlinearity",
                                               "spectral_norm", "residual_mlp", "output_filter"]
    assert ablation[0]["note"].startswith("identical to stable-fno in 1D")
    ks_stable = results["datasets"][0]["stable"]
    assert ablation[0]["spectrum_log_err"] == ks_stable["spectrum_log_err"] and ablation[0]["params"] == ks_stable["params"]
    ks_vanilla = results["datasets"][0]["vanilla"]
    assert all(abs(a["params"] / ks_vanilla["params"] - 1) < 0.1 for a in ablation)  # every row matched to fno
    assert len(results["parts"]) == 2


def test_the_stabiliser_matters_only_where_the_stable_model_survives() -> None:
    import sys

    repo = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(repo / "benchmarks"))
    from stable_vs_vanilla_fno import targets

    def row(blowup: int | None, spectrum: float | None, one_step: float = 1e-3) -> dict:
        return {"blowup_step": blowup, "spectrum_log_err": spectrum, "one_step_rel_l2": one_step,
                "valid_steps": 10.0, "chaos_valid_steps": 30.0}

    matters = lambda v, s: targets(v, s, chaotic=False)["stabiliser_visibly_matters"]  # noqa: E731
    assert matters(row(302, 0.4), row(None, 0.5))          # vanilla blows up, stable does not
    assert not matters(row(302, 0.4), row(20, None))       # both blow up (Kolmogorov, 2026-12-02)
    assert matters(row(None, 1.0), row(None, 0.5)) and not matters(row(None, 0.9), row(None, 0.5))
    t = targets(row(None, 1.0, 4e-3), row(None, 0.5, 5.1e-3), chaotic=True)
    assert t["stable_one_step_within_25pct"] is False and t["stable_valid_at_least_half_chaos"] is False


def test_benchmark_matches_the_stable_width_with_the_model_overrides(tmp_path: Path) -> None:
    """``--set model.spectral_mixing=depthwise`` must re-match the width (it once kept the dense one)."""
    import sys

    repo = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(repo / "benchmarks"))
    from stable_vs_vanilla_fno import dataset_setup, stable_model

    from solvers.neural_operator.configs import StableFNOConfig
    from solvers.neural_operator.models import build_model, n_params

    s = dataset_setup("ks-l22", tmp_path, True, ["model.spectral_mixing=depthwise", "model.residual_mlp=true"])
    assert s["small"] == {"n_layers": 2, "spectral_mixing": "depthwise", "residual_mlp": True}
    model = stable_model(s["fno_params"], 1, 1, s["grid"], s["fno_model"]["n_modes"], **s["small"])
    cfg = StableFNOConfig(**{k: v for k, v in model.items()})
    count = n_params(build_model("stable-fno", cfg, 1, 1, 1)) + 2 * (s["grid"][0] // 2 + 1)  # + output filter
    assert abs(count / s["fno_params"] - 1) < 0.1
