"""Evaluation: scoring paired sets under the stated protocol, the non-learned baselines, and the
project benchmark.

- :mod:`uptflow.evaluation.paired`: PSNR / SSIM / LPIPS of predictions (a folder, or a model run on
  pairs) against ground truth; CSV / JSON / PROTOCOL.md (what ``uptflow evaluate`` runs).
- :mod:`uptflow.evaluation.baselines`: gamma, histogram equalisation, CLAHE.
- :mod:`uptflow.evaluation.benchmark_data`: the seeded Kodak24-synthetic + SICE benchmark set.

The paired-evaluation API is re-exported here.
"""

from uptflow.evaluation.paired import (
    EvalResult,
    evaluate_folders,
    evaluate_model,
    format_table,
    load_lpips,
    match_by_stem,
    score_pairs,
    write_results,
)

__all__ = ["EvalResult", "match_by_stem", "load_lpips", "score_pairs", "evaluate_folders", "evaluate_model",
           "write_results", "format_table"]
