"""Run the reference library tint (time-interpret 0.3.0) on our data and our model.

Runs INSIDE benchmarks/tint_bridge/.venv (see setup_venv.sh); it never imports sklearn_tsmask.

Inputs
  --data IN.npz     ``X`` float32 (N, C, T), OUR layout (channels before time).
  --model MODEL.pt  a TorchScript module (torch.jit.save) mapping (N, C, T) to logits
                    (N, T, K) or (N, K) (or regression outputs).
Output
  --out OUT.npz     ``masks`` float32 (N, C, T) in OUR layout, ``seconds`` (wall time of the
                    explanation only: mask/perturbation set-up, tint's ``attribute`` call; not
                    the imports nor the model loading), the versions (``tint_version``,
                    ``torch_version``, ``pytorch_lightning_version``, ``captum_version``,
                    ``numpy_version``), ``settings`` (JSON of every setting used) and, for
                    DynaMask, ``best_area`` (the single keep ratio tint picks for the whole set).

tint is batch-first (N, T, C): X is transposed for it, the model is wrapped so that it still
receives (N, C, T), and the masks are transposed back.

Defaults reproduce tint's own State (HMM) experiment (experiments/hmm/main.py of
time_interpret), the setting of the SPEC's reference figures:
  dynamask       gaussian_blur, sigma_max 1, areas 0.25..0.34 (np.arange(0.25, 0.35, 0.01)),
                 size_reg_factor_init (lambda_0) 0.1, size_reg_factor_dilation (delta) 100,
                 time_reg_factor (lambda_c) 1, 1000 epochs, MaskNet's default optimiser
                 (Adam, lr 1e-3), MSE, best (lowest-error) keep ratio returned.
  extremal_mask  perturbation NN = BiGRU(C -> C, L2-normalised) + Linear(2C -> C) (tint's
                 RNN + MLP, as in its experiment), lambda_1 = lambda_2 = 1, Adam lr 0.01,
                 500 epochs, MSE, preservation mode.
batch_size defaults to N (all series in one batch). With several areas and batch_size < N,
tint's DynaMask mixes mask rows of different samples (a tint bug, SPEC section 0).
"""

import argparse
import json
import logging
import os
import sys
import time
import warnings


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", required=True, choices=["dynamask", "extremal_mask"])
    p.add_argument("--data", required=True, help="IN.npz with X float32 (N, C, T)")
    p.add_argument("--model", required=True, help="TorchScript module (N, C, T) -> outputs")
    p.add_argument("--out", required=True, help="OUT.npz")
    # common
    p.add_argument("--epochs", type=int, default=None, help="default: 1000 dynamask, 500 extremal_mask")
    p.add_argument("--batch-size", type=int, default=None, help="default: N (one batch)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: OMP_NUM_THREADS or 2)")
    p.add_argument("--optim", choices=["adam", "sgd"], default="adam")
    p.add_argument("--lr", type=float, default=None, help="default: 1e-3 dynamask (MaskNet default), 1e-2 extremal_mask")
    p.add_argument("--loss", default="mse", help="tint loss name: mse, cross_entropy, l1, ...")
    p.add_argument("--deletion", action="store_true", help="deletion mode (default: preservation)")
    p.add_argument(
        "--freeze-model",
        action="store_true",
        help="set requires_grad=False on the black box's parameters (tint's experiments do not: "
        "by default the backward also computes their unused gradients, as there)",
    )
    # dynamask
    p.add_argument("--perturbation", default="gaussian_blur",
                   choices=["gaussian_blur", "fade_moving_average", "fade_moving_average_window"])
    p.add_argument("--sigma-max", type=float, default=1.0)
    p.add_argument("--window-size", type=int, default=2, help="fade_moving_average_window only")
    p.add_argument("--areas", type=float, nargs="+", default=None,
                   help="keep ratios; default np.arange(0.25, 0.35, 0.01) = 0.25..0.34")
    p.add_argument("--size-reg-init", "--lambda-0", dest="size_reg_init", type=float, default=0.1)
    p.add_argument("--size-reg-dilation", "--delta", dest="size_reg_dilation", type=float, default=100.0)
    p.add_argument("--time-reg", "--lambda-c", dest="time_reg", type=float, default=1.0)
    # extremal mask
    p.add_argument("--lambda-1", type=float, default=1.0)
    p.add_argument("--lambda-2", type=float, default=1.0)
    p.add_argument("--nn", dest="nn", default="bigru", choices=["bigru", "gru", "zeros"],
                   help="perturbation network: bigru (tint's experiment), gru (causal), zeros (no NN)")
    return p.parse_args(argv)


def _quiet():
    warnings.filterwarnings("ignore")
    for name in ["pytorch_lightning", "lightning_fabric", "lightning", "torch"]:
        logging.getLogger(name).setLevel(logging.ERROR)


def main(argv=None):
    args = parse_args(argv)
    threads = args.threads or int(os.environ.get("OMP_NUM_THREADS", "0") or 0) or 2
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    _quiet()

    import numpy as np

    # pytorch-lightning 1.9.5 still uses np.Inf (removed in numpy 2) in ModelCheckpoint and
    # EarlyStopping.  The trainer below disables both, this only guards a stray code path.
    if not hasattr(np, "Inf"):
        np.Inf = np.inf

    import torch
    import captum
    import pytorch_lightning as pl
    import tint
    from pytorch_lightning import Trainer
    from tint.attr import DynaMask, ExtremalMask
    from tint.attr.models import ExtremalMaskNet, MaskNet
    from tint.models import MLP, RNN

    _quiet()  # the imports above reset some filters
    torch.set_num_threads(threads)

    versions = {
        "tint_version": getattr(tint, "__version__", "?"),
        "torch_version": torch.__version__,
        "pytorch_lightning_version": pl.__version__,
        "captum_version": captum.__version__,
        "numpy_version": np.__version__,
    }

    with np.load(args.data) as d:
        X = np.asarray(d["X"], dtype=np.float32)
    if X.ndim != 3:
        raise SystemExit(f"X must be (N, C, T), got shape {X.shape}")
    n, c, t = X.shape

    black_box = torch.jit.load(args.model, map_location="cpu")
    black_box.eval()
    for prm in black_box.parameters():
        prm.requires_grad_(not args.freeze_model)

    class BatchFirst(torch.nn.Module):
        """tint feeds (N, T, C); our model wants (N, C, T)."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model(x.transpose(1, 2))

    forward_func = BatchFirst(black_box).eval()
    x = torch.from_numpy(X).transpose(1, 2).contiguous()  # (N, T, C)

    epochs = args.epochs or (1000 if args.method == "dynamask" else 500)
    batch_size = args.batch_size or n
    lr = args.lr if args.lr is not None else (1e-3 if args.method == "dynamask" else 1e-2)
    areas = [float(a) for a in (args.areas if args.areas is not None else np.arange(0.25, 0.35, 0.01))]
    settings = {
        "method": args.method, "epochs": epochs, "batch_size": batch_size, "seed": args.seed,
        "threads": threads, "optim": args.optim, "lr": lr, "loss": args.loss,
        "deletion": args.deletion, "freeze_model": args.freeze_model, "shape": [n, c, t],
    }
    if args.method == "dynamask":
        settings.update(perturbation=args.perturbation, sigma_max=args.sigma_max, areas=areas,
                        size_reg_init=args.size_reg_init, size_reg_dilation=args.size_reg_dilation,
                        time_reg=args.time_reg)
        if args.perturbation == "fade_moving_average_window":
            settings["window_size"] = args.window_size
    else:
        settings.update(lambda_1=args.lambda_1, lambda_2=args.lambda_2, nn=args.nn)

    pl.seed_everything(args.seed, workers=True)
    trainer = Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=max(1, epochs),
        deterministic=False,
    )

    # Guard: tint's DynaMask adds its size/time regularisers from `training_step_end`, a hook
    # pytorch-lightning >= 2 never calls.  Count the calls (class-level wrapper: tint deep-copies
    # the MaskNet) and refuse a run where they were skipped.
    from tint.attr.models.mask import Mask

    reg_calls = [0]
    _orig_reg = Mask.regularisation

    def _counted_regularisation(self, loss):
        reg_calls[0] += 1
        return _orig_reg(self, loss)

    Mask.regularisation = _counted_regularisation

    extra = {}
    start = time.perf_counter()
    if args.method == "dynamask":
        pert_kwargs = {}
        if args.perturbation == "gaussian_blur":
            pert_kwargs["sigma_max"] = args.sigma_max
        elif args.perturbation == "fade_moving_average_window":
            pert_kwargs["window_size"] = args.window_size
        mask_net = MaskNet(
            forward_func=forward_func,
            perturbation=args.perturbation,
            deletion_mode=args.deletion,
            keep_ratio=areas,
            size_reg_factor_init=args.size_reg_init,
            size_reg_factor_dilation=args.size_reg_dilation,
            time_reg_factor=args.time_reg,
            loss=args.loss,
            optim=args.optim,
            lr=lr,
            **pert_kwargs,
        )
        explainer = DynaMask(forward_func)
        attr, best_ratio = explainer.attribute(
            x, trainer=trainer, mask_net=mask_net, batch_size=batch_size, return_best_ratio=True
        )
        extra["best_area"] = np.float64(best_ratio)
        n_steps = epochs * -(-n // batch_size)
        if reg_calls[0] != n_steps:
            raise SystemExit(
                f"tint DynaMask regularisation ran {reg_calls[0]} times for {n_steps} steps: "
                f"pytorch-lightning {pl.__version__} skips `training_step_end` (need 1.9.x)"
            )
        extra["regularisation_calls"] = np.int64(reg_calls[0])
    else:
        if args.nn == "zeros":
            nn_model = None
        else:
            bidir = args.nn == "bigru"
            nn_model = torch.nn.Sequential(
                RNN(input_size=c, rnn="gru", hidden_size=c, bidirectional=bidir),
                MLP([(2 if bidir else 1) * c, c]),
            )
        mask_net = ExtremalMaskNet(
            forward_func=forward_func,
            preservation_mode=not args.deletion,
            model=nn_model,
            lambda_1=args.lambda_1,
            lambda_2=args.lambda_2,
            loss=args.loss,
            optim=args.optim,
            lr=lr,
        )
        explainer = ExtremalMask(forward_func)
        attr = explainer.attribute(x, trainer=trainer, mask_net=mask_net, batch_size=batch_size)
    seconds = time.perf_counter() - start

    attr = attr.detach().cpu()
    if tuple(attr.shape) != (n, t, c):
        raise SystemExit(f"tint returned attributions of shape {tuple(attr.shape)}, expected {(n, t, c)}")
    masks = attr.transpose(1, 2).contiguous().numpy().astype(np.float32)  # (N, C, T)

    out = {
        "masks": masks,
        "seconds": np.float64(seconds),
        "settings": np.array(json.dumps(settings)),
        **{k: np.array(v) for k, v in versions.items()},
        **extra,
    }
    tmp = args.out + ".tmp.npz"
    np.savez(tmp, **out)
    os.replace(tmp, args.out)
    print(json.dumps({"seconds": seconds, **versions, **{k: float(v) for k, v in extra.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
