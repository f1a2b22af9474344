"""Callbacks: pluggable pieces of the explainers' optimisation loop.

Every explainer runs the same loop: for each batch of series, ``max_iter``
optimiser steps on the method's objective. Callbacks watch it, as skorch's
do for a training loop: the progress bar (``verbose``) and the stopping rule
(``tol``, ``n_iter_no_change``) are callbacks, and more can be passed with the
``callbacks`` parameter of any explainer.

A callback subclasses :class:`Callback` and overrides the events it needs.
A callback keeps what it records on itself (the user's object, as skorch's
callbacks do) and resets it in ``on_explain_begin``; ``clone`` copies the
callbacks with the other parameters.
"""

import math

from tqdm.auto import tqdm

__all__ = ["Callback", "EarlyStopping", "ProgressBar", "LossRecorder"]


class Callback:
    """Base class of the loop's callbacks; every event does nothing by default.

    Events, in order: ``on_explain_begin`` once per ``fit``/``transform``
    call, then for each batch ``on_batch_begin``, ``on_epoch_end`` after every
    optimiser step, and ``on_batch_end``; finally ``on_explain_end``.

    Examples
    --------
    >>> from sklearn_tsmask import DynaMask
    >>> from sklearn_tsmask.callbacks import Callback
    >>> from sklearn_tsmask.datasets import make_rare_time
    >>> class CountSteps(Callback):
    ...     def on_explain_begin(self, explainer, *, n_batches, max_iter, training):
    ...         self.steps = 0
    ...     def on_epoch_end(self, epoch, loss):
    ...         self.steps += 1
    ...     def on_explain_end(self):
    ...         print("steps:", self.steps)
    >>> X, _, white_box = make_rare_time(n_samples=4, random_state=0)
    >>> masks = DynaMask(max_iter=5, callbacks=[CountSteps()]).fit(X, white_box).transform(X)
    steps: 5
    """

    def on_explain_begin(self, explainer, *, n_batches, max_iter, training):
        """Called once before the first batch.

        Parameters
        ----------
        explainer : BaseMaskExplainer
            The explainer running the loop.
        n_batches : int
            Number of batches of series.
        max_iter : int
            Steps per batch at most.
        training : bool
            True in ``fit`` (shared networks trained from scratch), False in
            ``transform``.
        """

    def on_batch_begin(self, batch_index, n_series):
        """Called before the first step of a batch of ``n_series`` series."""

    def on_epoch_end(self, epoch, loss):
        """Called after each step; return True to stop the batch.

        Parameters
        ----------
        epoch : int
            Index of the step just taken (from 0).
        loss : torch.Tensor
            0-d tensor: the batch's loss per series at this step (read it
            with ``float(loss)``; that waits for a GPU).

        Returns
        -------
        stop : bool or None
            True to end the batch after this step.
        """

    def on_batch_end(self, n_iter):
        """Called after the last step of a batch, which ran ``n_iter`` steps."""

    def on_explain_end(self):
        """Called once after the last batch."""


class EarlyStopping(Callback):
    """Stop a batch when its loss stops improving (scikit-learn's rule).

    The batch stops after ``n_iter_no_change`` consecutive steps whose loss
    per series is not below the best so far minus ``tol``, as
    ``MLPClassifier`` and ``SGDClassifier`` do. The explainers add it when
    their ``tol`` parameter is set.

    Parameters
    ----------
    tol : float
        Improvement that counts, in loss per series.
    n_iter_no_change : int, default=10
        Patience in steps.

    Examples
    --------
    >>> import torch
    >>> from sklearn_tsmask.callbacks import EarlyStopping
    >>> stop = EarlyStopping(tol=0.1, n_iter_no_change=2)
    >>> stop.on_batch_begin(0, 4)
    >>> [bool(stop.on_epoch_end(i, torch.tensor(v))) for i, v in enumerate([1.0, 0.5, 0.45, 0.44])]
    [False, False, False, True]
    """

    def __init__(self, tol, n_iter_no_change=10):
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change

    def on_batch_begin(self, batch_index, n_series):
        self._best = math.inf
        self._stale = 0

    def on_epoch_end(self, epoch, loss):
        value = float(loss)
        self._stale = self._stale + 1 if value > self._best - self.tol else 0
        self._best = min(self._best, value)
        return self._stale >= self.n_iter_no_change


class ProgressBar(Callback):
    """A tqdm progress bar over the steps of every batch, with the loss.

    The explainers add it when ``verbose > 0``.

    Parameters
    ----------
    refresh : int, default=20
        How many times per batch the loss shown is updated (reading it waits
        for a GPU, so not at every step).

    Examples
    --------
    >>> from sklearn_tsmask import DynaMask
    >>> from sklearn_tsmask.callbacks import ProgressBar
    >>> explainer = DynaMask(max_iter=10, callbacks=[ProgressBar()])  # same as verbose=1
    """

    def __init__(self, refresh=20):
        self.refresh = refresh

    def on_explain_begin(self, explainer, *, n_batches, max_iter, training):
        self._max_iter = max_iter
        self._every = max(1, max_iter // max(1, int(self.refresh)))
        self._bar = tqdm(
            total=n_batches * max_iter,
            desc=f"{type(explainer).__name__}.{'fit' if training else 'transform'}",
            unit="step",
        )

    def on_epoch_end(self, epoch, loss):
        self._bar.update()
        if (epoch + 1) % self._every == 0:
            self._bar.set_postfix(loss=f"{float(loss):.4g}", refresh=False)

    def on_batch_end(self, n_iter):
        self._bar.update(self._max_iter - n_iter)  # a batch stopped early skips its remaining steps

    def on_explain_end(self):
        self._bar.close()


class LossRecorder(Callback):
    """Keep the loss per series of every step of every batch.

    Useful to look at convergence batch by batch (``loss_curve_`` averages
    over batches).

    Attributes
    ----------
    losses_ : list of list of float
        One list per batch of the last call, the loss per series at each step.

    Examples
    --------
    >>> from sklearn_tsmask import DynaMask
    >>> from sklearn_tsmask.callbacks import LossRecorder
    >>> from sklearn_tsmask.datasets import make_rare_time
    >>> X, _, white_box = make_rare_time(n_samples=4, random_state=0)
    >>> recorder = LossRecorder()
    >>> masks = DynaMask(max_iter=5, callbacks=[recorder]).fit(X, white_box).transform(X)
    >>> len(recorder.losses_), len(recorder.losses_[0])
    (1, 5)
    """

    def on_explain_begin(self, explainer, *, n_batches, max_iter, training):
        self.losses_ = []

    def on_batch_begin(self, batch_index, n_series):
        self.losses_.append([])

    def on_epoch_end(self, epoch, loss):
        self.losses_[-1].append(float(loss))
