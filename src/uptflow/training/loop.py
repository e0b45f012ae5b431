"""The training loop: :class:`Trainer` (single process or DDP) and its stop conditions.

The pieces live beside it: the objective and dequantisation noise (:mod:`.objective`),
validation under the evaluation protocol (:mod:`.validation`), the weight average
(:mod:`.ema`), resume checks (:mod:`.resume`), stop exceptions and signals (:mod:`.stops`).
Design decisions, and why:

* **Noise and order are functions of the iteration.**  Sample order comes from
  :class:`~uptflow.training.sampler.GlobalBatchSampler`; dequantisation noise for the whole GLOBAL
  batch from :func:`~uptflow.training.objective.dequantization_noise` ``(seed, iteration)``, each
  rank taking its rows.  So resume is bit-exact and N ranks see what one process sees.
* **Precision.**  Under AMP only the encoder runs in bf16/fp16; the flow runs in float32.
* **Non-finite steps are skipped**, never applied: a NaN/inf loss or gradient norm (reduced over
  ranks, so all ranks agree) skips the optimiser step (and the EMA update), is logged, and
  ``max_nonfinite`` in a row stop the run (:class:`NonFiniteLossError`).
* **Stopping keeps the work**: see :mod:`.stops`.
"""

from __future__ import annotations

import math
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, default_collate

from uptflow.model import UPTFlow
from uptflow.training.checkpointing import save_checkpoint
from uptflow.training.config import TrainConfig
from uptflow.training.distributed import (DistInfo, all_reduce_sum, barrier, dist_from_env, init_distributed,
                                         select_device, shutdown)
from uptflow.training.ema import WeightEMA
from uptflow.training.logging import MetricWindow, RunLogger, progress_bar, truncate_metrics
from uptflow.training.objective import (TrainingObjective, bits_per_dim, dequantization_noise, dequantize,
                                       iteration_seed)
from uptflow.training.optim import build_optimizer, grad_norm_and_clip
from uptflow.training.resume import read_resume, restore_run, run_state
from uptflow.training.precision import autocast_setting
from uptflow.training.sampler import EpochIndexed, GlobalBatchSampler
from uptflow.training.schedule import WarmupMultiStep
from uptflow.training.stops import (NonFiniteLossError, TrainingInterrupted, TrainingStopped, install_stop_handlers,
                                   restore_signal_handlers, unwrap_worker_error, worker_stopped_by_signal)
from uptflow.training.validation import validate_model

__all__ = ["Trainer", "TrainResult", "TrainingObjective", "TrainingStopped", "TrainingInterrupted",
           "NonFiniteLossError", "bits_per_dim", "iteration_seed", "dequantization_noise"]


@dataclass(frozen=True)
class TrainResult:
    """What :meth:`Trainer.fit` produced."""

    iteration: int
    run_dir: Path
    last_checkpoint: Path | None
    best_checkpoint: Path | None
    best_psnr: float | None
    finished: bool


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
        self.amp_dtype, self.amp_mode = autocast_setting(self.device, cfg.train.amp, cfg.train.cpu_amp, self.log)

        torch.manual_seed(cfg.seed)  # identical initial weights on every rank (DDP broadcasts anyway)
        self.model = UPTFlow(cfg.model_config()).to(self.device).train()
        if cfg.train.init_from and ckpt is None:
            self._load_weights(cfg.train.init_from)
        #: NHWC weights and batches (``train.channels_last``); load_state_dict copies across layouts, so
        #: checkpoints of either layout resume and load in the other
        self.channels_last = cfg.train.channels_last is True or (cfg.train.channels_last == "auto"
                                                                  and self.device.type == "cpu")
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)  # in place: parameters keep their identity
        self.objective = TrainingObjective(self.model, cfg.train.l1_weight, self.amp_dtype,
                                           l1_highlight=cfg.train.l1_highlight)
        self._ddp: nn.Module | None = None
        self.optimizer = build_optimizer(self.model, cfg.optim)
        self.scheduler = WarmupMultiStep(self.optimizer, cfg.schedule, cfg.train.iters)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_mode == "fp16")
        #: the weight average (``train.ema_decay > 0``); started in :meth:`fit` after ActNorm's init
        self.ema: WeightEMA | None = None

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
    @property
    def last_path(self) -> Path:
        return self.run_dir / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.run_dir / "best.pt"

    @property
    def eval_model(self) -> UPTFlow:
        """The weights validation and export use: the EMA copy when the run keeps one."""
        return self.ema.model if self.ema is not None else self.model  # type: ignore[return-value]

    def _read_resume(self, resume: str | Path | None) -> tuple[dict[str, Any] | None, Path | None]:
        """Load the checkpoint to resume from (``auto``: ``RUN/last.pt`` if it exists)."""
        return read_resume(self.last_path, resume, self.device)

    def _load_weights(self, source: str) -> None:
        """Start from pretrained weights (``train.init_from``: any file ``load_model`` accepts)."""
        from uptflow.checkpoints import load_model

        pretrained = load_model(source)
        if pretrained.config != self.model.config:
            raise ValueError(f"train.init_from {source}: its architecture differs from this run's model config")
        self.model.load_state_dict(pretrained.state_dict())
        self.log.info(f"initialised the model from {source}")

    def _resume(self, ckpt: dict[str, Any], path: Path) -> None:
        restore_run(self, ckpt, path)
        self._saved_iteration = self.iteration
        self._resumed_from = path
        self.log.info(f"resumed from {path} at iteration {self.iteration}")

    # -- checkpoints -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the run exactly (plain data + tensors), see :func:`run_state`."""
        return run_state(self)

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
        if cfg.train.ema_decay > 0 and self.ema is None:
            self.ema = WeightEMA(self.model, cfg.train.ema_decay)  # after ActNorm's data-dependent init
        self._wrap_ddp()
        workers = cfg.train.workers
        loader = DataLoader(data, batch_sampler=sampler, num_workers=workers, collate_fn=default_collate,
                            pin_memory=self.device.type == "cuda", persistent_workers=False,
                            prefetch_factor=2 if workers else None)
        bar = progress_bar(self.config.train, self.iteration) if self.dist.is_main else None
        old_handlers = install_stop_handlers(self._on_signal)
        window = MetricWindow()
        try:
            for batch in loader:
                self._train_iteration(batch, window, bar)
                if self.iteration >= end:
                    break
        except TrainingStopped:
            raise
        except BaseException as err:
            if self._signal is not None and worker_stopped_by_signal(err):
                # `kill -- -PGID`, `pkill -f`, a terminal's Ctrl-C: the data workers got the same
                # signal and died first.  That is the stop that was asked for, not a crash.
                path = self.save() if self.iteration > self._saved_iteration else self.last_path
                name = signal.Signals(self._signal).name
                raise TrainingInterrupted(f"interrupted by {name} after iteration {self.iteration} (its data "
                                          f"workers were stopped too); state saved to {path} (continue with "
                                          f"--resume)", checkpoint=path, iteration=self.iteration) from None
            self._emergency_save(err)
            raise unwrap_worker_error(err) from None
        finally:
            restore_signal_handlers(old_handlers)
            if bar is not None:
                bar.close()
        if self.iteration > self._saved_iteration:
            self.save()
        barrier(self.dist)
        return self._result(finished=self.iteration >= cfg.train.iters)

    def _train_iteration(self, batch: dict[str, Any], window: MetricWindow, bar: Any) -> None:
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
        low, normal = self._to_device(batch)
        b = normal.shape[0]
        noise = dequantization_noise(self.config.seed, it, (b * self.dist.world_size, *normal.shape[1:]))
        noise = noise[self.dist.rank * b:(self.dist.rank + 1) * b].to(dev, non_blocking=True)
        normal_deq = dequantize(normal, noise, self.model.config.quantization)

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
        grad_norm = grad_norm_and_clip(self.model.parameters(), self.config.train.grad_clip)
        flag = 1.0 if self._signal is not None else 0.0
        stats = torch.stack([loss.detach().float(), nll_mean.detach(), l1_mean.detach().float(),
                             torch.tensor(flag, device=dev)])
        all_reduce_sum(stats, self.dist)
        stats[:3] /= self.dist.world_size
        stats = stats.cpu()
        finite = math.isfinite(float(stats[0])) and (self.amp_mode == "fp16" or math.isfinite(grad_norm))
        if finite:
            self.scaler.step(self.optimizer)  # plain optimizer.step() when the scaler is disabled
            # fp16: the scaler skips a step whose unscaled gradients overflowed, i.e. a non-finite norm
            if self.ema is not None and math.isfinite(grad_norm):
                self.ema.update(self.model)
        if self.scaler.is_enabled():
            self.scaler.update()
        return stats, grad_norm, finite

    # -- pieces of fit ---------------------------------------------------------------------------
    def _to_device(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(low, normal)`` of a collated batch on the training device, in the model's memory layout."""
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        return tuple(batch[k].to(self.device, non_blocking=True).contiguous(memory_format=fmt)
                     for k in ("low", "normal"))  # type: ignore[return-value]

    def _initialize_actnorm(self, sampler: GlobalBatchSampler, data: EpochIndexed) -> None:
        """Data-dependent ActNorm init on the first GLOBAL batch (identical on every rank)."""
        flags = [b for name, b in self.model.named_buffers() if name.endswith("initialized")]
        if not flags or all(bool(f) for f in flags):
            return
        keys = sampler.global_keys(self.iteration)
        low, normal = self._to_device(default_collate([data[k] for k in keys]))
        noise = dequantization_noise(self.config.seed, self.iteration, tuple(normal.shape)).to(self.device)
        with torch.no_grad():
            self.objective(low, dequantize(normal, noise, self.model.config.quantization), None)

    def _wrap_ddp(self) -> None:
        if not self.dist.enabled or self._ddp is not None:
            return
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        self._ddp = DistributedDataParallel(self.objective, device_ids=ids)

    def _log_train(self, step: int, lr: float, window: MetricWindow) -> None:
        bs = self.config.train.batch_size
        self.log.write(window.record(step, step * bs / len(self.train_dataset), lr, bs, self.nonfinite_total))
        window.reset()

    def _on_signal(self, signum: int) -> bool:
        """Remember SIGINT/SIGTERM (the loop stops after this iteration); True = a second Ctrl-C."""
        if self._signal is not None and signum == signal.SIGINT:
            return True
        self._signal = signum
        self.log.warning(f"received {signal.Signals(signum).name}: finishing this iteration, then saving last.pt")
        return False

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
    def validate(self, step: int | None = None) -> dict[str, Any] | None:
        """Validate :attr:`eval_model` (rank 0) with :func:`~uptflow.training.validation.validate_model`.

        PSNR/SSIM follow ``uptflow evaluate``'s protocol (8-bit predictions).  Updates ``best.pt``
        when PSNR improves.  Returns the logged record (None without validation data).
        """
        if not self.dist.is_main or self.val_dataset is None or len(self.val_dataset) == 0:
            return None
        step = self.iteration if step is None else step

        def log_image(i: int, item: dict[str, Any], out: torch.Tensor) -> None:
            if i < self.config.train.val_images:
                row = torch.cat([item["low"][None].to(out.device), out, item["normal"][None].to(out.device)], dim=-1)
                self.log.images(f"val/{item.get('name', i)}", row[0], step)

        rec = {"step": step, **validate_model(self.eval_model, self.val_dataset, self.device, self.config.seed,
                                              on_image=log_image)}
        if self.ema is not None:
            rec["val_weights"] = "ema"
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


def _build(cfg: TrainConfig, split: str) -> Dataset | None:
    from uptflow.data.config import build_dataset

    return build_dataset(cfg.data, split=split)
