"""Wall time, peak memory and the speed floor of an explanation.

The floor is what any perturbation-mask method must pay: per optimisation
step, one forward and one backward pass of the frozen black box on the same
batch (the same number of rows: series × masks per series). The ratio of the
explainer's seconds to the floor's is the efficiency figure.
"""

import statistics
import threading
import time

import torch
from sklearn.utils import Bunch

from sklearn_tsmask import WithInputs
from sklearn_tsmask.callbacks import Callback
from sklearn_tsmask._models import check_model_inputs
from sklearn_tsmask._panel import to_tensor


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class PeakMemory:
    """Peak memory above the starting level while the block runs.

    CUDA: ``torch.cuda.max_memory_allocated`` (the caching allocator's true peak).
    CPU: the kernel's resident-set high-water mark (``VmHWM``, reset on entry by
    writing 5 to ``/proc/self/clear_refs``) minus the resident set at entry; where
    the reset is not allowed, the resident set sampled every 5 ms. On CPU this is
    the *growth* of the process: memory the allocator kept from an earlier run and
    reuses does not count again.
    """

    def __init__(self, device):
        self.device = device
        self.peak_bytes = 0

    @staticmethod
    def _status_kb(field):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        raise OSError(f"{field} not in /proc/self/status")

    @staticmethod
    def _reset_high_water_mark():
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start = torch.cuda.memory_allocated(self.device)
            return self
        self._start = self._status_kb("VmRSS")
        self._hwm = self._reset_high_water_mark()
        self._thread = None
        if not self._hwm:
            self._peak = self._start
            self._stop = threading.Event()

            def sample():
                while not self._stop.wait(0.005):
                    self._peak = max(self._peak, self._status_kb("VmRSS"))

            self._thread = threading.Thread(target=sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device) - self._start
        elif self._hwm:
            self.peak_bytes = max(0, self._status_kb("VmHWM") - self._start)
        else:
            self._stop.set()
            self._thread.join()
            self.peak_bytes = max(self._peak, self._status_kb("VmRSS")) - self._start
        return False


def median_seconds(step, reps, *, warmup=2, device=torch.device("cpu")):
    """Median seconds of ``step()`` over ``reps`` runs after ``warmup`` untimed ones (waiting for ``device``)."""
    times = []
    for i in range(reps + warmup):
        _sync(device)
        start = time.perf_counter()
        step()
        _sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def _forward_backward_seconds(model, x, inputs, reps):
    """Median seconds of one forward + backward of ``model`` on ``x`` (input gradient)."""
    x = x.detach().clone().requires_grad_(True)

    def step():
        out = model(x, **inputs)
        torch.autograd.grad(out.float().pow(2).mean(), x)

    with model.context(), torch.enable_grad():
        return median_seconds(step, reps, device=x.device)


def floor_seconds(explainer, X, n_iter, reps=5):
    """Seconds of the explainer's optimisation steps as bare forward+backward passes.

    Parameters
    ----------
    explainer : fitted BaseMaskExplainer
        Gives the frozen model, the device and the batch structure (series
        per batch, masks per series).
    X : array-like (N, C, T) or WithInputs
        The explained series (with the model's per-series inputs, if any).
    n_iter : int
        Steps the optimisation ran: the most over batches, as a stopping rule
        may end a batch before ``max_iter`` (``explain(X).n_iter``, or
        ``n_iter_`` after the fit of a method that trains networks).
    reps : int
        Timed repetitions per distinct batch size (median taken).

    Returns
    -------
    total : float
        Floor seconds for the whole explanation (steps × per-step floor).
    per_step : float
        Floor seconds of one step on a full batch.
    """
    series, inputs = (X.X, X.inputs) if isinstance(X, WithInputs) else (X, {})
    x, _ = to_tensor(series, dtype=explainer.model_.dtype, device=explainer.device_)
    kwargs = check_model_inputs(inputs, x.shape[0], explainer.device_)
    n, rows, V = x.shape[0], explainer._batch_rows(x), explainer._masks_per_series()
    sizes = [rows] * (n // rows) + ([n % rows] if n % rows else [])
    per_size = {}
    for b in sorted(set(sizes)):
        xb = x[:b].repeat_interleave(V, dim=0)
        kb = {k: v[:b].repeat_interleave(V, dim=0) for k, v in kwargs.items()}
        per_size[b] = _forward_backward_seconds(explainer.model_, xb, kb, reps)
    total = sum(per_size[b] for b in sizes) * int(n_iter)
    return total, per_size[rows]


def explain_once(explainer, X, model):
    """Fit ``explainer`` to ``X`` and return its masks, optimising each series' masks exactly once.

    ``fit_transform`` optimises once for every explainer (with the networks,
    for the methods that train them in ``fit``) and records the steps run in
    ``n_iter_``, so the committed figures (one optimisation per series) keep
    their meaning.

    Parameters
    ----------
    explainer : BaseMaskExplainer
        Unfitted (or to be refitted) explainer.
    X : array-like (N, C, T) or WithInputs
        The series (with the model's per-series inputs, if any).
    model : object
        The black box.

    Returns
    -------
    explanation : sklearn.utils.Bunch
        ``masks`` (shaped like the series) and ``n_iter`` (the most steps a
        batch ran).
    """
    masks = explainer.fit_transform(X, model=model)
    return Bunch(masks=masks, n_iter=int(explainer.n_iter_))


def publish(text, *, no_save=False, path=None):
    """Print a report section and append it to ``benchmarks/RESULTS.md`` (or ``path``) unless ``no_save``."""
    print(text)
    if not no_save:
        from pathlib import Path

        with open(path or Path(__file__).resolve().parent / "RESULTS.md", "a") as fh:
            fh.write("\n" + text)


class ObjectiveTap(Callback):
    """A callback that also sees the objective of each batch (``self.objective``, its series ``self.rows``).

    The explainer builds one objective per batch in ``_make_objective``; the tap shadows that method on the
    given explainer (an instance attribute, for this explainer only) to keep a reference, so that a benchmark
    can read masks or errors the public result does not expose (every area's mask, the masks at given steps).
    """

    def __init__(self, explainer):
        self.objective = None
        self.rows = None
        make = explainer._make_objective

        def tapped(batch, networks, hyper):
            self.objective = make(batch, networks, hyper)
            self.rows = batch.rows
            return self.objective

        explainer._make_objective = tapped
