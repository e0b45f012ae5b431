"""Enhancements in several threads at once give exactly the sequential results.

The strip size (:mod:`uptflow.nets.strips`) and the active pooled statistics
(:mod:`uptflow.nets.pooled_stats`) are per-context state; were they process-wide, a tiled run in
one thread would replay its tile statistics into a whole-image pass in another (measured before
the fix: results up to 17/255 off with the bundled model).
"""

from __future__ import annotations

import threading

import torch

import uptflow
from uptflow.api import enhance_tensor
from uptflow.model import UPTFlow
from uptflow.nets import pooled_stats, strips


def _model() -> UPTFlow:
    torch.manual_seed(0)
    return UPTFlow.from_preset("tiny").eval()


def _jobs(model: UPTFlow) -> list:
    g = torch.Generator().manual_seed(1)
    a = torch.rand(1, 3, 96, 136, generator=g) * 0.3
    b = torch.rand(1, 3, 120, 88, generator=g) * 0.3
    return [
        lambda: enhance_tensor(model, a, tile=64, overlap=16),            # tiled, shared statistics
        lambda: enhance_tensor(model, b, tile=0),                         # whole image
        lambda: enhance_tensor(model, a, tile=0, temperature=0.7, seed=3),
        lambda: enhance_tensor(model, b, tile=64, overlap=8, tile_refine=2),
    ]


def test_concurrent_tiled_and_whole_equal_sequential() -> None:
    model = _model()
    jobs = _jobs(model)
    with torch.no_grad():
        expected = [job() for job in jobs]
    results: dict[int, torch.Tensor] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(jobs) * 2)

    def run(i: int) -> None:
        try:
            start.wait()
            with torch.no_grad():
                for _ in range(2):  # repeat so the passes overlap in time
                    out = jobs[i % len(jobs)]()
                    if i in results:
                        assert torch.equal(out, results[i])
                    results[i] = out
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs) * 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i, out in results.items():
        assert torch.equal(out, expected[i % len(jobs)]), f"job {i % len(jobs)} differs from its sequential run"


def test_state_is_per_thread() -> None:
    seen: dict[str, object] = {}
    inside = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with strips.strip_size(None), pooled_stats.use(pooled_stats.PooledStats(record=True)):
            inside.set()
            release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    assert inside.wait(10)
    seen["strips"], seen["stats"] = strips.strip_pixels(), pooled_stats.active()
    release.set()
    t.join()
    assert seen["strips"] == strips.DEFAULT_STRIP_PIXELS
    assert seen["stats"] is None


def test_public_enhance_from_threads() -> None:
    model = _model()
    img = (torch.rand(3, 72, 100, generator=torch.Generator().manual_seed(5)) * 0.2)
    ref = uptflow.enhance(img, model=model, tile=64, overlap=16)
    outs: list[torch.Tensor] = []
    threads = [threading.Thread(target=lambda: outs.append(uptflow.enhance(img, model=model, tile=64, overlap=16)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outs) == 3 and all(torch.equal(o, ref) for o in outs)
