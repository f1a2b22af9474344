"""Wall time, peak memory and the speed floor of an explanation.

The floor is what any perturbation-mask method must pay: per optimisation
step, one forward and one backward pass of the frozen black box on the same
batch (the same number of rows: series × variants). The ratio of the
explainer's seconds to the floor's is the efficiency figure.
"""

import statistics
import threading
import time

import torch

from sklearn_tsmask._models import check_model_kwargs
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


def _forward_backward_seconds(model, x, model_kwargs, reps):
    """Median seconds of one forward + backward of ``model`` on ``x`` (input gradient)."""
    x = x.detach().clone().requires_grad_(True)
    times = []
    with model.context(), torch.enable_grad():
        for i in range(reps + 2):
            _sync(x.device)
            start = time.perf_counter()
            out = model(x, **model_kwargs)
            (grad,) = torch.autograd.grad(out.float().pow(2).mean(), x)
            _sync(x.device)
            if i >= 2:  # warm-up
                times.append(time.perf_counter() - start)
    return statistics.median(times)


def floor_seconds(explainer, X, model_kwargs=None, reps=5):
    """Seconds of the explainer's optimisation steps as bare forward+backward passes.

    Parameters
    ----------
    explainer : fitted BaseMaskExplainer
        Gives the frozen model, the device, the batch structure (series per
        batch, variants per series) and the number of epochs run (``n_iter_``).
    X : array-like (N, C, T)
        The explained series.
    model_kwargs : dict or None
        Per-series model inputs.
    reps : int
        Timed repetitions per distinct batch size (median taken).

    Returns
    -------
    total : float
        Floor seconds for the whole explanation (steps × per-step floor).
    per_step : float
        Floor seconds of one step on a full batch.
    """
    x, _ = to_tensor(X, dtype=explainer.model_.dtype, device=explainer.device_)
    kwargs = check_model_kwargs(model_kwargs, x.shape[0], explainer.device_)
    n, rows, V = x.shape[0], explainer._batch_rows(x), explainer._n_variants()
    sizes = [rows] * (n // rows) + ([n % rows] if n % rows else [])
    per_size = {}
    for b in sorted(set(sizes)):
        xb = x[:b].repeat_interleave(V, dim=0)
        kb = {k: v[:b].repeat_interleave(V, dim=0) for k, v in kwargs.items()}
        per_size[b] = _forward_backward_seconds(explainer.model_, xb, kb, reps)
    # epochs actually run (a stopping rule may end before n_epochs; n_iter_ is the most over batches)
    total = sum(per_size[b] for b in sizes) * getattr(explainer, "n_iter_", explainer.n_epochs)
    return total, per_size[rows]
