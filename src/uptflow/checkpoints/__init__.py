"""Loading and converting checkpoints: ours and the authors' (never executing pickled code).

Modules, one concern each:

- :mod:`~uptflow.checkpoints.keys`    the authors' key names <-> ours (the mapping tables)
- :mod:`~uptflow.checkpoints.infer`   the architecture from tensor shapes
- :mod:`~uptflow.checkpoints.bounds`  recorded configs parsed strictly and bounded; tensors vs config;
  finite weights
- :mod:`~uptflow.checkpoints.files`   reading files safely, writing them atomically, metadata
- :mod:`~uptflow.checkpoints.load`    :func:`load_model`, which runs all the checks before building
"""

from uptflow.checkpoints.bounds import CONFIG_BOUNDS, check_finite, config_from_record
from uptflow.checkpoints.errors import CheckpointError
from uptflow.checkpoints.files import read_file, read_metadata, save_model, training_record
from uptflow.checkpoints.infer import from_official, infer_config, official_view
from uptflow.checkpoints.keys import official_key_to_ours, our_key_to_official, to_official
from uptflow.checkpoints.load import load_model

__all__ = [
    "CONFIG_BOUNDS",
    "CheckpointError",
    "check_finite",
    "config_from_record",
    "from_official",
    "infer_config",
    "load_model",
    "official_key_to_ours",
    "official_view",
    "our_key_to_official",
    "read_file",
    "read_metadata",
    "save_model",
    "to_official",
    "training_record",
]
