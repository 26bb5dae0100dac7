"""ttckpt: tt-ckpt's ``.ttc`` checkpoints in Python.

- ``ttckpt.format`` (numpy only): read and write ``.ttc`` files (spec/FORMAT.md), every CRC
  and every rule of the spec checked; ``read``/``write``/``encode`` and the ``Checkpoint``
  values (config, vocabulary, optimizer settings, generator state, data identity and cursor,
  loss history, session starts, tensors).
- ``ttckpt.data`` (numpy only): tokenizers, data identity and the batch sampler of
  spec/TRAINING.md, drawing the same windows as tt-ckpt from the checkpoint's generator.
- ``ttckpt.torch_ref`` (needs torch): reference PyTorch modules of the engine's
  architectures, AdamW/scheduler state to and from a checkpoint, the training step.

``python3 -m ttckpt FILE.ttc`` verifies a file and prints a summary.
"""
from .format import (BPEData, Checkpoint, DataIdentity, FormatError, GeneratorState, ModelConfig, OptimizerSettings,
                     Tensor, TensorEntry, TraceInfo, TrainingState, TTCFile, Vocabulary, canonical_tensors, encode,
                     is_norm_or_bias, load, model_digest, read, safetensors_model_digest, write)
from .data import Batch, BatchSampler, DataError, TrainingData, load_corpus, resolve_data, tutorial_data

__version__ = "0.1.0"
__all__ = ["BPEData", "TraceInfo", "model_digest", "safetensors_model_digest", "Checkpoint", "DataIdentity", "FormatError", "GeneratorState", "ModelConfig", "OptimizerSettings",
           "Tensor", "TensorEntry", "TrainingState", "TTCFile", "Vocabulary", "canonical_tensors", "encode",
           "is_norm_or_bias", "load", "read", "write", "Batch", "BatchSampler", "DataError", "TrainingData",
           "load_corpus", "resolve_data", "tutorial_data"]
