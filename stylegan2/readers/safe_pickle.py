"""A restricted unpickler for checkpoint pickles: an allow-list of globals, never code.

Every global a pickle names is looked up in `_ALLOWED`, which maps it to a stand-in
of ours; nothing is imported from the file's module names and nothing is fetched by
attribute, so a pickle cannot reach `os.system`, `eval` or an importer, not even
through a nested reduce. The stand-ins record NVIDIA's persisted objects and
TensorFlow networks as plain data (`PersistedObject`, `TFNetwork`).
"""

from __future__ import annotations

import collections
import io
import math
import pickle
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import CheckpointError


@dataclass
class PersistedObject:
    """An NVIDIA `persistence` object, as data: its class name and its `__dict__`."""
    class_name: str
    state: dict
    version: int | None = None


class TFNetwork:
    """Stand-in for `dnnlib.tflib.network.Network`: keeps the state dict, builds nothing."""

    def __setstate__(self, state):
        if not isinstance(state, dict):
            raise CheckpointError("a TensorFlow network in this file has no state dict; the file is corrupt")
        self.state = state


class EasyDict(dict):
    """Stand-in for `dnnlib.util.EasyDict` (a dict with attribute access)."""

    def __setstate__(self, state):  # EasyDict pickles its (empty) __dict__ as BUILD state
        pass


def _reconstruct_persistent_obj(meta):
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state"), dict):
        raise CheckpointError("a persisted object in this file is malformed; the file is corrupt or not a checkpoint")
    # meta['module_src'] is the Python source NVIDIA's loader executes; we never read it.
    return PersistedObject(class_name=str(meta.get("class_name")), state=meta["state"], version=meta.get("version"))


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    if not isinstance(storage, torch.Tensor):
        raise CheckpointError("a tensor in this file has no readable storage; the file is corrupt")
    size, stride = tuple(int(v) for v in size), tuple(int(v) for v in stride)
    numel = math.prod(size)
    # A real weight never repeats storage elements: a zero stride or a view larger than its storage
    # would let a tiny file expand into gigabytes when copied out.
    if len(size) != len(stride) or numel > storage.numel() or any(st <= 0 for n, st in zip(size, stride) if n > 1):
        raise CheckpointError(f"a tensor of shape {list(size)} does not fit its storage of {storage.numel()} "
                              "elements; the file is corrupt or hostile")
    try:
        # Honour the stored stride (channels_last files) and copy out a contiguous tensor.
        return torch.as_strided(storage, tuple(size), tuple(stride), int(storage_offset)).contiguous()
    except RuntimeError as e:
        raise CheckpointError(f"a tensor in this file does not fit its storage ({e}); the file is corrupt") from None


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    return data


def _load_storage_from_bytes(b):
    """A legacy `torch.save` of one storage -> a flat tensor, read with weights_only."""
    if not isinstance(b, (bytes, bytearray)):
        raise CheckpointError("a storage in this file is not a byte string; the file is corrupt")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            storage = torch.load(io.BytesIO(b), weights_only=True, map_location="cpu")
    except Exception as e:
        raise CheckpointError(f"a tensor storage in this file cannot be read safely ({type(e).__name__}); "
                              "the file is corrupt or not a supported checkpoint") from None
    if isinstance(storage, torch.TypedStorage):
        return torch.tensor([], dtype=storage.dtype).set_(storage)
    if isinstance(storage, torch.UntypedStorage):
        return torch.tensor([], dtype=torch.uint8).set_(storage)
    raise CheckpointError("a tensor storage in this file is not a storage; the file is corrupt")


_NUMPY_CORE = np._core if hasattr(np, "_core") else np.core

_ALLOWED = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib.tflib.network", "Network"): TFNetwork,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage_from_bytes,
    ("numpy", "dtype"): np.dtype,
    ("numpy", "ndarray"): np.ndarray,
}
for _core in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_core, "scalar")] = _NUMPY_CORE.multiarray.scalar
    _ALLOWED[(_core, "_reconstruct")] = _NUMPY_CORE.multiarray._reconstruct


class RestrictedUnpickler(pickle._Unpickler):
    """Resolves only the globals of `_ALLOWED`; refuses every other one by name.

    Built on the pure-Python unpickler: its memo is a dict, so a tiny file naming a huge
    memo index cannot make it allocate a huge table (the C unpickler preallocates one).
    Checkpoints hold few, large objects, so the speed difference does not matter.
    """

    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except (KeyError, TypeError):
            raise CheckpointError(
                f"refusing to load: the file asks for the Python global '{module}.{name}', which no supported "
                "checkpoint uses. It is not a supported checkpoint (and may be hostile); nothing from it was run."
            ) from None

    def persistent_load(self, pid):
        raise CheckpointError("refusing to load: the pickle uses persistent ids, which no supported checkpoint "
                              "format does (a torch.save file? it should be a zip archive)")


def safe_load(data: bytes):
    """Unpickle `data` with the allow-list; any failure becomes a `CheckpointError`."""
    try:
        return RestrictedUnpickler(io.BytesIO(data)).load()
    except CheckpointError:
        raise
    except (EOFError, pickle.UnpicklingError) as e:
        raise CheckpointError(f"the pickle is truncated or corrupt ({type(e).__name__}: {e}); "
                              "download or copy the file again") from None
    except (MemoryError, RecursionError) as e:
        raise CheckpointError(f"the pickle is corrupt ({type(e).__name__}); download or copy the file again") from None
    except Exception as e:  # any opcode can fail on a damaged file; none of these ran file code
        raise CheckpointError(f"the pickle is corrupt ({type(e).__name__}: {e}); "
                              "download or copy the file again") from None
