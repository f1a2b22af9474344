"""Run the reference library tint (time-interpret 0.3.0) from OUR environment.

tint lives in its own virtual environment (benchmarks/tint_bridge/.venv, made by
setup_venv.sh) so it never becomes a dependency of sklearn_tsmask.  This module imports
neither tint nor sklearn_tsmask: it saves the data to a .npz, exports the model with
TorchScript, runs ``run_tint.py`` with the venv's python in a subprocess and loads the masks.

    from benchmarks.tint_bridge.bridge import run_tint, tint_available   # or put this folder on sys.path
    if tint_available():
        masks, seconds, versions = run_tint("extremal_mask", X, model, epochs=500)

``X``: (N, C, T) array in our layout; ``model``: a torch.nn.Module taking (N, C, T) and
returning (N, T, K) or (N, K).  ``masks`` come back as float32 (N, C, T).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"
RUNNER = HERE / "run_tint.py"
METHODS = ("dynamask", "extremal_mask")

__all__ = ["tint_available", "run_tint", "venv_python", "TintBridgeError", "VENV", "RUNNER"]


class TintBridgeError(RuntimeError):
    """The tint subprocess failed (its stderr is in the message)."""


def venv_python(venv: str | os.PathLike | None = None) -> Path:
    venv = Path(venv) if venv is not None else VENV
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def tint_available(venv: str | os.PathLike | None = None, timeout: float = 120) -> bool:
    """True when the venv exists and ``import tint`` (with tint's DynaMask/ExtremalMask) works in it."""
    py = venv_python(venv)
    if not py.exists():
        return False
    try:
        res = subprocess.run(
            [str(py), "-W", "ignore", "-c", "import tint, pytorch_lightning; from tint.attr import DynaMask, ExtremalMask"],
            capture_output=True,
            timeout=timeout,
            env=_child_env(1),
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return res.returncode == 0


def _child_env(threads: int) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    # Do not let OUR environment leak into the venv's interpreter.
    for var in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
        env.pop(var, None)
    return env


def _default_threads() -> int:
    try:
        import torch

        return int(torch.get_num_threads())
    except Exception:
        return int(os.environ.get("OMP_NUM_THREADS", "2") or 2)


def export_model(model, X, path) -> str:
    """Save ``model`` ((N, C, T) -> outputs) as TorchScript at ``path``.

    ``torch.jit.script`` first; when the model cannot be scripted, ``torch.jit.trace`` on a
    small example batch of ``X`` (checked on a second batch size, since tint calls the model
    with other batch sizes: DynaMask stacks its areas on the batch axis).  Returns "script" or
    "trace".  The model's train/eval mode is left as it was; the export is in eval mode.
    """
    import torch

    if isinstance(model, torch.jit.ScriptModule):
        torch.jit.save(model, str(path))
        return "script"
    was_training = model.training
    model_cpu = copy.deepcopy(model).cpu().eval()
    try:
        try:
            scripted = torch.jit.script(model_cpu)
            kind = "script"
        except Exception as script_error:  # noqa: BLE001 - fall back to tracing
            xt = torch.as_tensor(np.asarray(X[: min(len(X), 2)], dtype=np.float32))
            checks = [(torch.as_tensor(np.asarray(X[:1], dtype=np.float32)).repeat(3, 1, 1),)]
            try:
                with torch.no_grad():
                    scripted = torch.jit.trace(model_cpu, xt, check_inputs=checks)
            except Exception as trace_error:
                raise TintBridgeError(
                    f"cannot export the model with TorchScript: script failed ({script_error!r}), "
                    f"trace failed ({trace_error!r})"
                ) from trace_error
            kind = "trace"
        torch.jit.save(scripted, str(path))
    finally:
        model.train(was_training)
    return kind


def _to_cli(hparams: dict) -> list:
    args = []
    for key, value in hparams.items():
        if value is None:
            continue
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            if value:
                args.append(flag)
        elif isinstance(value, (list, tuple, np.ndarray)):
            args.append(flag)
            args.extend(str(float(v)) if isinstance(v, (float, np.floating)) else str(v) for v in value)
        else:
            args.extend([flag, str(value)])
    return args


def run_tint(
    method: str,
    X,
    model,
    *,
    timeout: float | None = 3600,
    threads: int | None = None,
    venv: str | os.PathLike | None = None,
    workdir: str | os.PathLike | None = None,
    return_info: bool = False,
    **hparams,
):
    """Explain ``X`` with tint's ``method`` ("dynamask" or "extremal_mask") on ``model``.

    hparams are run_tint.py's options with underscores: epochs, batch_size, seed, areas (list),
    lambda_1, lambda_2, lr, optim, loss, sigma_max, size_reg_init (lambda_0),
    size_reg_dilation (delta), time_reg (lambda_c), perturbation, nn ("bigru", "gru",
    "zeros"), deletion (bool), freeze_model (bool).  Unset ones take tint's State-experiment
    defaults (see run_tint.py).

    ``threads``: torch/OpenMP threads of the child (default: ours, ``torch.get_num_threads()``).
    ``timeout``: seconds before the child is killed (TintBridgeError).
    Returns ``(masks, seconds, versions)``: masks float32 (N, C, T), seconds the wall time of
    the explanation alone (measured in the child, without imports and model loading), and a
    dict of the child's library versions; with ``return_info=True`` a fourth item, a dict with
    the settings used, ``best_area`` (DynaMask), the export kind and the child's stdout.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    py = venv_python(venv)
    if not py.exists():
        raise TintBridgeError(f"no tint venv at {py.parent.parent}: run bash {HERE / 'setup_venv.sh'}")
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 3:
        raise ValueError(f"X must be (N, C, T), got shape {X.shape}")
    threads = int(threads or _default_threads())

    with tempfile.TemporaryDirectory(prefix="tint_bridge_", dir=workdir) as tmp:
        tmp = Path(tmp)
        data, model_path, out = tmp / "in.npz", tmp / "model.pt", tmp / "out.npz"
        np.savez(data, X=X)
        export_kind = export_model(model, X, model_path)
        cmd = [
            str(py), str(RUNNER), "--method", method, "--data", str(data), "--model", str(model_path),
            "--out", str(out), "--threads", str(threads), *_to_cli(hparams),
        ]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_child_env(threads))
        except subprocess.TimeoutExpired as exc:
            stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            raise TintBridgeError(f"tint {method} timed out after {timeout} s\n{stderr[-4000:]}") from exc
        if res.returncode != 0 or not out.exists():
            raise TintBridgeError(
                f"tint {method} failed (exit {res.returncode}): {' '.join(cmd)}\n--- stderr ---\n"
                f"{res.stderr[-6000:]}\n--- stdout ---\n{res.stdout[-2000:]}"
            )
        with np.load(out) as d:
            masks = np.asarray(d["masks"], dtype=np.float32)
            seconds = float(d["seconds"])
            versions = {
                k[: -len("_version")]: str(d[k]) for k in d.files if k.endswith("_version")
            }
            info = {"settings": json.loads(str(d["settings"])), "export": export_kind, "stdout": res.stdout}
            for key in ("best_area", "regularisation_calls"):
                if key in d.files:
                    info[key] = d[key].item()
    if masks.shape != X.shape:
        raise TintBridgeError(f"tint returned masks of shape {masks.shape}, expected {X.shape}")
    if return_info:
        return masks, seconds, versions, info
    return masks, seconds, versions


if __name__ == "__main__":  # tiny self-check: python benchmarks/tint_bridge/bridge.py
    print("tint available:", tint_available())
    sys.exit(0 if tint_available() else 1)
