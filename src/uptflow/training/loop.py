"""The training loop: :class:`Trainer` (single process or DDP), its objective and stop conditions.

Objective per sample: NLL in bits/dim of the dequantised normal-light image given the low-light
image (exactly ``UPTFlow.nll``), plus ``l1_weight * L1(decode(z=0), normal)`` (weight 0 in the
authors' recipe).  Design decisions, and why:

* **Noise and order are functions of the iteration.**  Sample order comes from
  :class:`~uptflow.training.sampler.GlobalBatchSampler`; dequantisation noise for the whole GLOBAL
  batch is drawn from a ``torch.Generator`` seeded with ``(seed, iteration)`` and each rank takes
  its rows.  So resume is bit-exact and N ranks see the same samples and noise as one process.
* **Precision.**  Under AMP only the encoder (the conditioning) runs in bf16/fp16; the flow --
  log-dets, the 1x1-conv inverse, the bits/dim reduction -- runs in float32.
* **Non-finite steps are skipped**, never applied: a NaN/inf loss or gradient norm (reduced over
  ranks, so all ranks agree) skips the optimiser step, is logged, and ``max_nonfinite`` in a row
  stop the run (:class:`NonFiniteLossError`).
* **Stopping keeps the work.**  SIGINT/SIGTERM finish the current iteration, write ``last.pt``
  and raise :class:`TrainingInterrupted`; any other exception writes ``last.pt`` (if there is
  new work) before propagating.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, default_collate

from uptflow.model import UPTFlow, bits_per_dim
from uptflow.training.checkpointing import (
    CheckpointError,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from uptflow.training.config import TrainConfig
from uptflow.training.distributed import (
    DistInfo,
    all_reduce_sum,
    barrier,
    dist_from_env,
    init_distributed,
    select_device,
    shutdown,
)
from uptflow.training.logging import RunLogger, truncate_metrics
from uptflow.training.sampler import EpochIndexed, GlobalBatchSampler
from uptflow.training.schedule import WarmupMultiStep

__all__ = [
    "Trainer",
    "TrainResult",
    "TrainingObjective",
    "TrainingStopped",
    "TrainingInterrupted",
    "NonFiniteLossError",
    "bits_per_dim",
    "iteration_seed",
    "dequantization_noise",
]


class TrainingStopped(RuntimeError):
    """The run stopped before its last iteration; ``checkpoint`` is where its state was saved."""

    def __init__(self, message: str, checkpoint: Path | None = None, iteration: int = 0) -> None:
        super().__init__(message)
        self.checkpoint = checkpoint
        self.iteration = iteration


class TrainingInterrupted(TrainingStopped):
    """SIGINT / SIGTERM: the state after the last full iteration is in ``last.pt``."""


class NonFiniteLossError(TrainingStopped):
    """``max_nonfinite`` consecutive steps had a non-finite loss or gradient."""


@dataclass(frozen=True)
class TrainResult:
    """What :meth:`Trainer.fit` produced."""

    iteration: int
    run_dir: Path
    last_checkpoint: Path | None
    best_checkpoint: Path | None
    best_psnr: float | None
    finished: bool


# ---------------------------------------------------------------------------------------------
# objective
# ---------------------------------------------------------------------------------------------
class TrainingObjective(nn.Module):
    """Per-sample training losses; an ``nn.Module`` so DDP can wrap its ``forward``.

    ``forward(low, normal_deq, normal=None)`` with images (B, 3, H, W) ([0, 1]; ``normal_deq`` =
    normal + (U - 1/2)/q) returns ``(nll [B] bits/dim, l1 [B] or None)``; ``l1`` is computed only
    when ``l1_weight > 0`` and ``normal`` is given.  ``amp_dtype`` (or None) applies to the
    encoder only.
    """

    def __init__(self, model: UPTFlow, l1_weight: float = 0.0, amp_dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.model = model
        self.l1_weight = float(l1_weight)
        self.amp_dtype = amp_dtype

    def forward(self, low: torch.Tensor, normal_deq: torch.Tensor,
                normal: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        model = self.model
        device_type = low.device.type
        with torch.autocast(device_type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None):
            contexts = model.condition(low)
        contexts = [c.float() for c in contexts]
        with torch.autocast(device_type, enabled=False):
            z, logdet = model.encode(normal_deq, low, contexts=contexts)
            dims = normal_deq.shape[1] * normal_deq.shape[2] * normal_deq.shape[3]
            nll = bits_per_dim(z.float(), logdet.float(), dims, model.config.quantization)
            l1 = None
            if self.l1_weight > 0 and normal is not None:
                out = model.decode(torch.zeros_like(z), low, contexts=contexts)
                l1 = (out - normal).abs().flatten(1).mean(dim=1)
        return nll, l1


def iteration_seed(seed: int, iteration: int) -> int:
    """A 63-bit seed for the dequantisation generator of ``iteration`` (SeedSequence hash)."""
    a, b = np.random.SeedSequence([int(seed), int(iteration), 0x6465_7175]).generate_state(2, dtype=np.uint32)
    return ((int(a) << 32) | int(b)) & ((1 << 63) - 1)


def dequantization_noise(seed: int, iteration: int, shape: tuple[int, ...]) -> torch.Tensor:
    """U(0, 1) noise of the GLOBAL batch ``shape`` (G, 3, H, W) for ``iteration``, float32 on CPU.

    Drawn on the CPU so it is identical on every device and every rank (rank ``r`` uses rows
    ``[r B/W, (r+1) B/W)``); cheap next to a training step.
    """
    g = torch.Generator(device="cpu")
    g.manual_seed(iteration_seed(seed, iteration))
    return torch.rand(shape, generator=g, dtype=torch.float32)


# ---------------------------------------------------------------------------------------------
# the trainer
# ---------------------------------------------------------------------------------------------
class Trainer:
    """Trains an :class:`UPTFlow` as described by a :class:`TrainConfig`.

    Args:
        config: the run; ``config.out`` is the run folder ``RUN``.
        train_dataset / val_dataset: override the datasets built from ``config.data`` (items
            ``{"low", "normal": (3, h, w) float32 [0, 1], "name"}``; the training set must have
            ``set_epoch`` or be deterministic).  ``val_dataset=False`` disables validation.
        resume: a checkpoint path, ``"auto"`` (``RUN/last.pt`` if it exists) or None.
        dist: the DDP placement (default: from the torchrun environment).
        echo: console printer for messages (default: ``logging``).
        tensorboard: write TensorBoard events when the package is installed.
    """

    def __init__(self, config: TrainConfig, *, train_dataset: Dataset | None = None,
                 val_dataset: Dataset | None | bool = None, resume: str | Path | None = None,
                 dist: DistInfo | None = None, echo: Callable[[str], None] | None = None,
                 tensorboard: bool = True) -> None:
        self.config = config.resolved()
        cfg = self.config
        info = dist or dist_from_env()
        self.device = select_device(cfg.train.device, info)
        self.dist = init_distributed(self.device, info)
        if cfg.train.batch_size % self.dist.world_size:
            raise ValueError(f"batch size {cfg.train.batch_size} is not divisible by the {self.dist.world_size} processes")
        self.run_dir = Path(cfg.out)

        # Data first: bad folders fail before anything is written.
        self.train_dataset = train_dataset if train_dataset is not None else _build(cfg, "train")
        if self.train_dataset is None or len(self.train_dataset) == 0:
            raise ValueError("the training dataset is empty")
        if val_dataset is False or not self.dist.is_main:
            self.val_dataset = None
        else:
            self.val_dataset = val_dataset if val_dataset is not None else _build(cfg, "val")

        ckpt, resume_path = self._read_resume(resume)  # a bad --resume fails before anything is written
        self.log = RunLogger(self.run_dir, enabled=self.dist.is_main, tensorboard=tensorboard, echo=echo)
        self.amp_dtype, self.amp_mode = self._amp()

        torch.manual_seed(cfg.seed)  # identical initial weights on every rank (DDP broadcasts anyway)
        self.model = UPTFlow(cfg.model_config()).to(self.device).train()
        if cfg.train.init_from and ckpt is None:
            self._load_weights(cfg.train.init_from)
        self.objective = TrainingObjective(self.model, cfg.train.l1_weight, self.amp_dtype)
        self._ddp: nn.Module | None = None
        o = cfg.optim
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=o.lr, betas=tuple(o.betas), eps=o.eps,
                                          weight_decay=o.weight_decay)
        self.scheduler = WarmupMultiStep(self.optimizer, cfg.schedule, cfg.train.iters)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_mode == "fp16")

        self.iteration = 0
        self.best: dict[str, Any] = {"metric": "val_psnr", "value": None, "iteration": None}
        self.nonfinite_total = 0
        self.nonfinite_streak = 0
        self._saved_iteration = -1
        self._signal: int | None = None
        self._resumed_from: Path | None = None
        if ckpt is not None:
            self._resume(ckpt, resume_path)
        elif resume == "auto":
            self.log.info(f"no {self.last_path} to resume from; starting a new run")
        if cfg.schedule.warmup_iters >= cfg.train.iters:
            self.log.warning(f"warm-up ({cfg.schedule.warmup_iters} iterations) is not shorter than the run "
                             f"({cfg.train.iters}); the full learning rate is never reached")

    # -- setup helpers ---------------------------------------------------------------------------
    def _amp(self) -> tuple[torch.dtype | None, str]:
        mode = self.config.train.amp
        if self.device.type != "cuda" or mode == "off":
            return None, "off"
        if mode == "bf16" and not torch.cuda.is_bf16_supported():
            self.log.warning("this GPU has no bfloat16; using fp16 autocast with a GradScaler instead")
            mode = "fp16"
        return (torch.bfloat16 if mode == "bf16" else torch.float16), mode

    @property
    def last_path(self) -> Path:
        return self.run_dir / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.run_dir / "best.pt"

    def _read_resume(self, resume: str | Path | None) -> tuple[dict[str, Any] | None, Path | None]:
        """Load the checkpoint to resume from (``auto``: ``RUN/last.pt`` if it exists)."""
        if resume is None:
            return None, None
        path = self.last_path if str(resume) == "auto" else Path(resume)
        if str(resume) == "auto" and not path.is_file():
            return None, None
        return load_checkpoint(path, map_location=self.device), path

    def _load_weights(self, source: str) -> None:
        """Start from pretrained weights (``train.init_from``: any file ``load_model`` accepts)."""
        from uptflow.checkpoints import load_model

        pretrained = load_model(source)
        if pretrained.config != self.model.config:
            raise ValueError(f"train.init_from {source}: its architecture differs from this run's model config")
        self.model.load_state_dict(pretrained.state_dict())
        self.log.info(f"initialised the model from {source}")

    def _resume(self, ckpt: dict[str, Any], path: Path) -> None:
        saved_model = ckpt["config"].get("model") if isinstance(ckpt["config"], dict) else None
        if saved_model != self.config.model_config().to_dict():
            raise CheckpointError(f"{path} was trained with a different model configuration than this run's; "
                                  "resume with the same --preset/--config")
        cosmetic = {"train.progress", "train.workers", "train.log_every", "train.val_images"}
        diff = [d for d in _diff(ckpt["config"], self.config.to_dict()) if d not in cosmetic]
        if diff:
            self.log.warning(f"resuming {path} with changed settings ({', '.join(diff[:6])}"
                             f"{', ...' if len(diff) > 6 else ''}): the run is no longer an exact continuation")
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        # The schedule is a pure function of (config, iteration): the scheduler built from this
        # run's config is already right, so its saved state is informational only.
        if ckpt.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(ckpt["scaler"])
        if ckpt.get("rng"):
            restore_rng_state(ckpt["rng"])
        self.iteration = int(ckpt["iteration"])
        self.best = dict(ckpt.get("best") or self.best)
        nf = ckpt.get("nonfinite") or {}
        self.nonfinite_total = int(nf.get("total", 0))
        self.nonfinite_streak = int(nf.get("streak", 0))
        self._saved_iteration = self.iteration
        self._resumed_from = path
        self.log.info(f"resumed from {path} at iteration {self.iteration}")

    # -- checkpoints -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the run exactly (plain data + tensors)."""
        from uptflow import __version__

        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            "iteration": self.iteration,
            "best": dict(self.best),
            "nonfinite": {"total": self.nonfinite_total, "streak": self.nonfinite_streak},
            "rng": capture_rng_state(),
            "config": self.config.to_dict(),
            "uptflow_version": __version__,
        }

    def save(self, path: Path | None = None) -> Path | None:
        """Write ``last.pt`` (or ``path``) on rank 0; returns the path (None on other ranks)."""
        if not self.dist.is_main:
            return None
        path = save_checkpoint(path or self.last_path, self.state_dict())
        if path == self.last_path:
            self._saved_iteration = self.iteration
        return path

    # -- loss (a method so tests can inject failures) ----------------------------------------------
    def compute_loss(self, low: torch.Tensor, normal_deq: torch.Tensor,
                     normal: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Per-sample ``(nll [B], l1 [B] or None)`` through the (possibly DDP-wrapped) objective."""
        module = self._ddp if self._ddp is not None else self.objective
        return module(low, normal_deq, normal)

    # -- the loop ------------------------------------------------------------------------------
    def fit(self, stop_at: int | None = None) -> TrainResult:
        """Train up to ``config.train.iters`` (or until iteration ``stop_at``, then save and return).

        Raises :class:`TrainingInterrupted` on SIGINT/SIGTERM and :class:`NonFiniteLossError`
        after ``max_nonfinite`` bad steps in a row, both after writing ``last.pt``.
        """
        cfg = self.config
        end = cfg.train.iters if stop_at is None else max(self.iteration, min(int(stop_at), cfg.train.iters))
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            cfg.save_yaml(self.run_dir / "config.yaml")
            if self._resumed_from is not None:
                truncate_metrics(self.log.metrics_path, self.iteration)
        if self.iteration >= end:
            self.log.info(f"nothing to do: the run is at iteration {self.iteration} of {cfg.train.iters}")
            return self._result()

        sampler = GlobalBatchSampler(len(self.train_dataset), cfg.train.batch_size, cfg.seed,
                                     self.dist.rank, self.dist.world_size, start=self.iteration, end=end)
        data = EpochIndexed(self.train_dataset)
        self._initialize_actnorm(sampler, data)
        self._wrap_ddp()
        workers = cfg.train.workers
        loader = DataLoader(data, batch_sampler=sampler, num_workers=workers, collate_fn=default_collate,
                            pin_memory=self.device.type == "cuda", persistent_workers=False,
                            prefetch_factor=2 if workers else None)
        bar = self._progress(end)
        old_handlers = self._install_signal_handlers()
        window = _Window()
        try:
            for batch in loader:
                self._train_iteration(batch, window, bar)
                if self.iteration >= end:
                    break
        except TrainingStopped:
            raise
        except BaseException as err:
            self._emergency_save(err)
            raise _unwrap_worker_error(err) from None
        finally:
            _restore_signal_handlers(old_handlers)
            if bar is not None:
                bar.close()
        if self.iteration > self._saved_iteration:
            self.save()
        barrier(self.dist)
        return self._result(finished=self.iteration >= cfg.train.iters)

    def _train_iteration(self, batch: dict[str, Any], window: "_Window", bar: Any) -> None:
        cfg = self.config
        it = self.iteration
        lr = self.scheduler.apply(it)
        stats, grad_norm, finite = self._step(batch, it)
        loss, nll, l1 = (float(x) for x in stats[:3])
        stop = bool(stats[3] > 0)
        self.iteration = it + 1
        window.iterations += 1
        step = self.iteration
        if finite:
            self.nonfinite_streak = 0
            window.add(loss, nll, l1 if self.objective.l1_weight > 0 else None, grad_norm)
        else:
            self.nonfinite_streak += 1
            self.nonfinite_total += 1
            self.log.warning(f"iteration {step}: non-finite loss/gradient (loss={loss}, grad norm={grad_norm}); "
                             f"step skipped ({self.nonfinite_streak} in a row, limit {cfg.train.max_nonfinite})")
            self.log.write({"step": step, "event": "nonfinite", "loss": loss, "grad_norm": grad_norm,
                            "nonfinite_skipped": self.nonfinite_total, "nonfinite_streak": self.nonfinite_streak})
        if bar is not None:
            bar.update(1)
            if finite:
                bar.set_postfix_str(f"nll {nll:.4f} lr {lr:.2e}", refresh=False)
        if step % cfg.train.log_every == 0 or step == 1 or step == cfg.train.iters:
            self._log_train(step, lr, window)
        if self.nonfinite_streak >= cfg.train.max_nonfinite:
            path = self.save()
            raise NonFiniteLossError(
                f"stopped at iteration {step}: {self.nonfinite_streak} non-finite losses/gradients in a row "
                f"(train.max_nonfinite={cfg.train.max_nonfinite}); lower the learning rate, enable "
                f"--grad-clip or check the data" + (f"; last good state saved to {path}" if path else ""),
                checkpoint=path, iteration=step)
        if stop:  # before validation: a SIGTERM usually comes with a short grace period
            path = self.save()
            name = signal.Signals(self._signal).name if self._signal else "a signal on another rank"
            raise TrainingInterrupted(f"interrupted by {name} after iteration {step}"
                                      + (f"; state saved to {path} (continue with --resume)" if path else ""),
                                      checkpoint=path, iteration=step)
        if cfg.train.val_every and step % cfg.train.val_every == 0:
            self.validate(step)
        if cfg.train.ckpt_every and step % cfg.train.ckpt_every == 0:
            self.save()

    def _step(self, batch: dict[str, Any], it: int) -> tuple[torch.Tensor, float, bool]:
        """One optimiser step; returns (rank-averaged [loss, nll, l1, stop flag], grad norm, applied).

        The step is skipped (not applied) when the loss or, except under fp16 where the
        GradScaler handles overflow itself, the gradient norm is not finite.  Both are identical
        on every rank (reduced loss; all-reduced gradients), so ranks never diverge.
        """
        dev = self.device
        low = batch["low"].to(dev, non_blocking=True)
        normal = batch["normal"].to(dev, non_blocking=True)
        b = normal.shape[0]
        noise = dequantization_noise(self.config.seed, it, (b * self.dist.world_size, *normal.shape[1:]))
        noise = noise[self.dist.rank * b:(self.dist.rank + 1) * b].to(dev, non_blocking=True)
        normal_deq = normal + (noise - 0.5) / self.model.config.quantization

        self.optimizer.zero_grad(set_to_none=True)
        nll, l1 = self.compute_loss(low, normal_deq, normal)
        nll_mean = nll.float().mean()
        loss = nll_mean
        l1_mean = torch.zeros((), device=dev)
        if l1 is not None:
            l1_mean = l1.float().mean()
            loss = loss + self.objective.l1_weight * l1_mean
        self.scaler.scale(loss).backward()
        if self.scaler.is_enabled():
            self.scaler.unscale_(self.optimizer)
        grad_norm = self._grad_norm_and_clip()
        flag = 1.0 if self._signal is not None else 0.0
        stats = torch.stack([loss.detach().float(), nll_mean.detach(), l1_mean.detach().float(),
                             torch.tensor(flag, device=dev)])
        all_reduce_sum(stats, self.dist)
        stats[:3] /= self.dist.world_size
        stats = stats.cpu()
        finite = math.isfinite(float(stats[0])) and (self.amp_mode == "fp16" or math.isfinite(grad_norm))
        if finite:
            self.scaler.step(self.optimizer)  # plain optimizer.step() when the scaler is disabled
        if self.scaler.is_enabled():
            self.scaler.update()
        return stats, grad_norm, finite

    def _grad_norm_and_clip(self) -> float:
        params = [p for p in self.model.parameters() if p.grad is not None]
        if not params:
            return float("nan")
        clip = self.config.train.grad_clip
        utils = torch.nn.utils
        if hasattr(utils, "get_total_norm") and hasattr(utils, "clip_grads_with_norm_"):
            norm = utils.get_total_norm([p.grad for p in params])
            if clip > 0 and torch.isfinite(norm):
                utils.clip_grads_with_norm_(params, clip, norm)
        else:  # pragma: no cover - torch < 2.6
            norm = utils.clip_grad_norm_(params, clip if clip > 0 else float("inf"))
        return float(norm)

    # -- pieces of fit ---------------------------------------------------------------------------
    def _initialize_actnorm(self, sampler: GlobalBatchSampler, data: EpochIndexed) -> None:
        """Data-dependent ActNorm init on the first GLOBAL batch (identical on every rank)."""
        flags = [b for name, b in self.model.named_buffers() if name.endswith("initialized")]
        if not flags or all(bool(f) for f in flags):
            return
        keys = sampler.global_keys(self.iteration)
        batch = default_collate([data[k] for k in keys])
        low = batch["low"].to(self.device)
        normal = batch["normal"].to(self.device)
        noise = dequantization_noise(self.config.seed, self.iteration, tuple(normal.shape)).to(self.device)
        with torch.no_grad():
            self.objective(low, normal + (noise - 0.5) / self.model.config.quantization, None)

    def _wrap_ddp(self) -> None:
        if not self.dist.enabled or self._ddp is not None:
            return
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        self._ddp = DistributedDataParallel(self.objective, device_ids=ids)

    def _progress(self, end: int) -> Any:
        if not (self.dist.is_main and self.config.train.progress):
            return None
        from tqdm import tqdm

        return tqdm(total=self.config.train.iters, initial=self.iteration, unit="it", dynamic_ncols=True,
                    file=sys.stderr, desc="train", mininterval=1.0)

    def _log_train(self, step: int, lr: float, window: "_Window") -> None:
        cfg = self.config
        rec: dict[str, Any] = {"step": step, "epoch": step * cfg.train.batch_size / len(self.train_dataset)}
        rec.update(window.summary())
        rec["lr"] = lr
        elapsed = time.perf_counter() - window.start
        rec["it_per_s"] = window.iterations / elapsed if elapsed > 0 else None
        rec["images_per_s"] = rec["it_per_s"] * cfg.train.batch_size if rec["it_per_s"] else None
        rec["nonfinite_skipped"] = self.nonfinite_total
        self.log.write(rec)
        window.reset()

    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        old = {}

        def handler(signum: int, frame: Any) -> None:
            if self._signal is not None and signum == signal.SIGINT:
                raise KeyboardInterrupt  # a second Ctrl-C: stop now
            self._signal = signum
            self.log.warning(f"received {signal.Signals(signum).name}: finishing this iteration, then saving last.pt")

        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, handler)
        return old

    def _emergency_save(self, err: BaseException) -> None:
        if not self.dist.is_main or self.iteration <= self._saved_iteration:
            return
        try:
            path = self.save()
            self.log.warning(f"{type(err).__name__} after iteration {self.iteration}: state saved to {path}")
        except Exception as save_err:  # never mask the original error
            self.log.warning(f"could not save {self.last_path} after {type(err).__name__}: {save_err}")

    def _result(self, finished: bool = False) -> TrainResult:
        return TrainResult(iteration=self.iteration, run_dir=self.run_dir,
                           last_checkpoint=self.last_path if self.last_path.is_file() else None,
                           best_checkpoint=self.best_path if self.best_path.is_file() else None,
                           best_psnr=self.best.get("value"), finished=finished)

    # -- validation ------------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self, step: int | None = None) -> dict[str, Any] | None:
        """PSNR/SSIM of ``enhance`` (z = 0) and NLL on the validation set (rank 0).

        Images are whole (any size); the NLL uses the top-left crop to multiples of 8 and fixed
        dequantisation noise, so numbers are comparable between validations.  Updates ``best.pt``
        when PSNR improves.  Returns the logged record (None without validation data).
        """
        from uptflow.metrics import psnr, ssim

        if not self.dist.is_main or self.val_dataset is None or len(self.val_dataset) == 0:
            return None
        step = self.iteration if step is None else step
        model = self.model
        model.eval()
        g = torch.Generator(device="cpu")
        g.manual_seed(self.config.seed + 1_000_003)  # same noise at every validation
        q = model.config.quantization
        m = model.config.size_multiple
        psnrs, ssims, nlls = [], [], []
        set_epoch = getattr(self.val_dataset, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(0)
        try:
            for i in range(len(self.val_dataset)):
                item = self.val_dataset[i]
                low = item["low"][None].to(self.device)
                normal = item["normal"][None].to(self.device)
                out = model.enhance(low)
                psnrs.append(float(psnr(out, normal)[0]))
                ssims.append(float(ssim(out, normal)[0]))
                h, w = (low.shape[-2] // m) * m, (low.shape[-1] // m) * m
                if h and w:
                    n8, l8 = normal[..., :h, :w], low[..., :h, :w]
                    noise = torch.rand(n8.shape, generator=g).to(self.device)
                    nlls.append(float(model.nll(n8 + (noise - 0.5) / q, l8, dequantize=False)[0]))
                if i < self.config.train.val_images:
                    self.log.images(f"val/{item.get('name', i)}", torch.cat([low, out, normal], dim=-1)[0], step)
        finally:
            model.train()
        rec = {"step": step, "val_psnr": float(np.mean(psnrs)), "val_ssim": float(np.mean(ssims)),
               "val_nll": float(np.mean(nlls)) if nlls else None, "val_images": len(psnrs)}
        best = self.best.get("value")
        if math.isfinite(rec["val_psnr"]) and (best is None or rec["val_psnr"] > best):
            self.best = {"metric": "val_psnr", "value": rec["val_psnr"], "iteration": step}
            rec["val_best"] = True
            save_checkpoint(self.best_path, self.state_dict())
        self.log.write(rec)
        self.log.info(f"validation at {step}: PSNR {rec['val_psnr']:.3f} dB, SSIM {rec['val_ssim']:.4f}"
                      + (f", NLL {rec['val_nll']:.4f} bits/dim" if rec["val_nll"] is not None else ""))
        return rec

    def close(self) -> None:
        """Flush logs and leave the process group (if this trainer joined it)."""
        self.log.close()
        shutdown(self.dist)


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------
class _Window:
    """Running sums between two metric lines."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.start = time.perf_counter()
        self.iterations = 0
        self.n = 0
        self.sums = {"loss": 0.0, "nll": 0.0, "l1": 0.0, "grad_norm": 0.0}
        self.has_l1 = False

    def add(self, loss: float, nll: float, l1: float | None, grad_norm: float) -> None:
        self.n += 1
        self.sums["loss"] += loss
        self.sums["nll"] += nll
        self.sums["grad_norm"] += grad_norm if math.isfinite(grad_norm) else 0.0
        if l1 is not None:
            self.has_l1 = True
            self.sums["l1"] += l1

    def summary(self) -> dict[str, Any]:
        # Counted by the caller: every iteration (finite or not) advances the clock.
        keys = ["nll", "loss", "grad_norm"] + (["l1"] if self.has_l1 else [])
        return {k: (self.sums[k] / self.n if self.n else None) for k in keys}


def _restore_signal_handlers(old: dict[int, Any]) -> None:
    for sig, handler in old.items():
        signal.signal(sig, handler)


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two config dicts."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in sorted(set(a) | set(b)):
            out += _diff(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return [] if a == b else [prefix[:-1]]


def _build(cfg: TrainConfig, split: str) -> Dataset | None:
    from uptflow.data.config import build_dataset

    return build_dataset(cfg.data, split=split)


def _unwrap_worker_error(err: BaseException) -> BaseException:
    """A DataLoader worker's re-raised error carries a traceback in its message; keep the last line."""
    text = str(err)
    if "Original Traceback" not in text:
        return err
    last = [ln for ln in text.strip().splitlines() if ln.strip()][-1]
    prefix = f"{type(err).__name__}: "
    msg = last[len(prefix):] if last.startswith(prefix) else last
    try:
        return type(err)(msg)
    except Exception:  # exotic constructors
        return err
