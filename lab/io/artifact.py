"""The lab's model file: a JSON header and per-tensor payloads, each entropy-coded. No pickle.

Layout of a ``.lab`` file (integers little-endian)::

    b"EFFLAB" | version u8 | header codec u8 | header coded/raw length u32 u32 | crc32 u32
    | header (JSON, entropy-coded) | pooled small tensors | each tensor's parts, in order

The header lists every ``state_dict`` tensor (dtype, shape, encoding, the codec and
lengths of its parts), the shape attributes of every module (so channel-pruned models
load into an unpruned template), an optional zoo name (so :func:`load` builds the
architecture itself) and the user's ``meta``. The CRC covers everything after the prefix.

Each tensor takes the smallest of these encodings (ranked by their zstd-3 size):

* ``raw`` — its bytes (any dtype), optionally byte-shuffled (all first bytes of the
  floats, then all second bytes, …), which compresses floats better;
* ``codes`` — when its module carries :class:`~lab.techniques.codes.WeightCodes` that
  decode to it exactly (always, then): the integer codes bit-packed at ``bits`` bits per
  code (``numpy.packbits``) or one byte per code, plus scale/zero point or codebook
  (stored as uint8 or float16 when that is exact, which the quantizer arranges);
* ``sparse`` / ``sparse_codes`` — only the entries that differ from a fill value (0.0,
  or per group the code of 0), with their positions as a bitmap of non-zeros or as
  Deep Compression's relative indices (gaps, one byte each, 255 = "skip 255"). Gaps win
  at high sparsity, the bitmap near 50 %; both end within ~3 % of the order-0 entropy.
* ``store: float16`` — a float32 tensor whose values are all exact in float16 (``quantize``
  rounds batch norm and biases so) is stored in 2 bytes a value, then encoded as above;
* ``pooled`` — small float32 tensors (batch norm, biases) share one byte-shuffled part
  when that is smaller (~8 % on batch-norm statistics).

Every part is then coded alone with the smallest of: stored, zstd (level 3, and 19 —
15 above 64 KiB, see ``STRONG_ZSTD``),
lzma (preset 9e; parts ≤ 64 KiB). Coding parts separately helps: one stream over the
same bytes mixes the statistics of positions, codes and floats (90 % sparse + 4-bit cnn:
13,107 B per part vs 13,767 B one lzma-9e stream vs 14,659 B one zstd-19 stream). zstd
wins on codes and positions, lzma on some small float parts. The header is zstd-coded
with a built-in dictionary of typical header text (~600 → ~270 B for the cnn).

Sizes for the zoo ``cnn`` (104,426 parameters, trained checkpoint), measured with this
code; unstructured sparsity is global magnitude pruning, no fine-tuning:

=========================================  =========  ========  ============
model                                         bytes   vs fp32   test acc.
=========================================  =========  ========  ============
fp32 ``state_dict`` (``torch.save``)         426,805      1.0×     92.86 %
artifact, plain fp32                         361,900      1.2×     92.86 %
artifact, 8-bit per channel                   98,016      4.4×     92.85 %
artifact, 4-bit per channel                   43,607      9.8×     92.27 %
artifact, k-means 4-bit (per layer)           42,131     10.1×     91.65 %
artifact, 90 % sparse + 4-bit                 11,819     36.1×    needs FT
artifact, 90 % sparse + 3-bit                 10,851     39.3×    needs FT
artifact, 95 % sparse + 4-bit                  7,622     56.0×    needs FT
=========================================  =========  ========  ============

At high compression the batch-norm parameters and biases (float16 after quantization:
~900 values for the cnn) and the per-channel scales dominate what is left: folding batch
norm into the convolutions before quantizing is the next big saving, not a better entropy
coder.

Example:
    >>> import tempfile, torch
    >>> from pathlib import Path
    >>> from lab import zoo
    >>> model = zoo.build("cnn").eval()
    >>> path = Path(tempfile.mkdtemp()) / "cnn.lab"
    >>> save(model, path) == path.stat().st_size
    True
    >>> x = torch.randn(2, 1, 28, 28)
    >>> torch.equal(load(path)(x), model(x))
    True
"""

from __future__ import annotations

import copy
import json
import lzma
import os
import struct
import tempfile
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import zstandard
from torch import nn

from lab.models import zoo
from lab.techniques.codes import WeightCodes, attach, codes_of

__all__ = ["FORMAT_VERSION", "load", "save", "state_dict_bytes"]

FORMAT_VERSION = 1
MAGIC = b"EFFLAB"
PREFIX = struct.Struct(
    "<6sBBIII"
)  # magic, version, header codec, coded/raw length, crc32 of the rest
CODECS = ("stored", "zstd", "lzma", "zstd + header dictionary")
POOL_MAX = 4096  # float32 tensors up to this many values may share one pooled part
LZMA_MAX = 64 * 1024  # larger parts skip lzma (slow, and never smaller than zstd-19 here)
# zstd's strong level for parts up to / above LZMA_MAX: on the cnn's large fp32 parts level
# 15 took about a third of level 19's time for files within 1.5% of its size (README), and
# saving a file is on the live dashboard's path, so large parts use 15.
STRONG_ZSTD = (19, 15)
SHAPE_ATTRIBUTES = (
    "in_channels",
    "out_channels",
    "groups",
    "in_features",
    "out_features",
    "num_features",
)
GAP_SKIP = 255  # relative-index byte meaning "255 positions without an entry"
# Typical header text that primes zstd for the JSON header (~400 B saved on a zoo cnn).
# Files depend on it: never change it within a format version.
HEADER_DICTIONARY = zstandard.ZstdCompressionDict(
    (
        b'{"format":1,"zoo":"cnn","meta":{},"modules":{"features.0.0":{"in_channels":1,'
        b'"out_channels":32,"groups":1},"features.0.1":{"num_features":32},"classifier":'
        b'{"in_features":128,"out_features":10}},"tensors":[{"name":"features.0.0.weight",'
        b'"dtype":"float32","shape":[32,1,3,3],"parts":{"data":[0,144,144],"scale":[0,64,64],'
        b'"zero_point":[2,14,32]},"encoding":"codes","packing":"bits","bits":4,"groups":32,'
        b'"params":{"scale":"float16","zero_point":"uint8"}},{"name":"features.0.1.weight",'
        b'"dtype":"float32","shape":[32],"parts":{"data":[0,128,128]},"encoding":"raw"},'
        b'{"name":"features.0.1.bias","dtype":"float32","shape":[64],"parts":{"data":[1,233,256]},'
        b'"encoding":"raw","shuffle":true},{"name":"features.0.1.running_mean",'
        b'{"name":"features.0.1.running_var",{"name":"features.0.1.num_batches_tracked",'
        b'"dtype":"int64","shape":[],"parts":{"data":[0,8,8]},"encoding":"raw"},'
        b'"parts":{"data":[1,2348,2937],"where":[1,2144,2304],"fill":[2,14,64],"scale":[0,128,128],'
        b'"zero_point":[2,14,64]},"encoding":"sparse_codes","positions":"gaps","packing":"bits",'
        b'"nnz":5874,"bits":4,"groups":64,"params":{"scale":"float16","zero_point":"uint8"}},'
        b'"positions":"bitmap","packing":"bytes","encoding":"sparse","codebook":"float32",'
        b'"params":{"codebook":"float16"}},"nnz":{"name":"fc1.weight","fc2.bias","fc3.weight"'
        b'"params":{"scale":"float32","zero_point":"float32"}},"mobile","teacher","mlp","model.'
        b'.parametrizations.weight.original","out_channels":128,"groups":1}'
    ),
    dict_type=zstandard.DICT_TYPE_RAWCONTENT,
)


# ---------------------------------------------------------------- entropy coding


def _zstd(data: bytes, level: int) -> bytes:
    return zstandard.ZstdCompressor(
        level=level, write_content_size=False, write_checksum=False
    ).compress(data)


def _lzma(data: bytes) -> bytes:
    dict_size = min(max(len(data), 4096), 1 << 20)  # a 64 MiB preset-9 window costs ~50 ms a call
    return lzma.compress(
        data,
        format=lzma.FORMAT_RAW,
        filters=[
            {"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": dict_size}
        ],
    )


def _entropy_code(data: bytes) -> tuple[int, bytes]:
    """(codec, bytes): the smallest of stored, zstd (level 3 and a strong level) and lzma-9e
    (≤ 64 KiB). The strong level is 19 up to 64 KiB and 15 above (see ``STRONG_ZSTD``)."""
    strong = STRONG_ZSTD[0] if len(data) <= LZMA_MAX else STRONG_ZSTD[1]
    options = [(0, data), (1, _zstd(data, 3)), (1, _zstd(data, strong))]
    if len(data) <= LZMA_MAX:
        options.append((2, _lzma(data)))
    return min(options, key=lambda option: len(option[1]))


def _header_code(text: bytes) -> tuple[int, bytes]:
    """(codec, bytes) for the JSON header: zstd primed with typical header text (codec 3) usually wins."""
    primed = min(
        (
            zstandard.ZstdCompressor(
                level=level,
                dict_data=HEADER_DICTIONARY,
                write_content_size=False,
                write_checksum=False,
                write_dict_id=False,
            ).compress(text)
            for level in (3, 19)
        ),
        key=len,
    )
    return min([(3, primed), _entropy_code(text)], key=lambda option: len(option[1]))


def _entropy_decode(data: bytes, codec: int, size: int) -> bytes:
    if codec == 0:
        out = data
    elif codec in (1, 3):
        dictionary = {"dict_data": HEADER_DICTIONARY} if codec == 3 else {}
        decompressor = zstandard.ZstdDecompressor(**dictionary)
        out = decompressor.decompress(data, max_output_size=size) if size else b""
    elif codec == 2:
        out = lzma.decompress(data, format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2}])
    else:
        raise ValueError(f"unknown codec {codec}")
    if len(out) != size:
        raise ValueError(f"a payload decodes to {len(out)} bytes instead of {size}")
    return out


def _cost(parts: dict[str, bytes]) -> int:
    """Cheap stand-in (zstd level 3) for a tensor's coded size, used to rank its encodings."""
    return sum(min(len(p), len(_zstd(p, 3))) for p in parts.values())


# ---------------------------------------------------------------- tensor encodings


def _raw_bytes(tensor: torch.Tensor) -> bytes:
    return tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def _from_bytes(buffer: bytes, dtype: torch.dtype, shape: list[int]) -> torch.Tensor:
    if not buffer:
        return torch.empty([0] if -1 in shape else shape, dtype=dtype)
    return torch.frombuffer(bytearray(buffer), dtype=torch.uint8).view(dtype).reshape(shape)


def _pack(codes: np.ndarray, bits: int) -> bytes:
    """``bits`` bits per code, most significant first, via numpy.packbits."""
    planes = np.unpackbits(codes.astype(np.uint8)[:, None], axis=1)[:, 8 - bits :]
    return np.packbits(planes.reshape(-1)).tobytes()


def _unpack(buffer: bytes, bits: int, count: int) -> np.ndarray:
    planes = np.unpackbits(np.frombuffer(buffer, np.uint8))[: count * bits].reshape(count, bits)
    padded = np.zeros((count, 8), np.uint8)
    padded[:, 8 - bits :] = planes
    return np.packbits(padded, axis=1).reshape(-1)


def _gaps(mask: np.ndarray) -> bytes:
    """Relative indices of the set entries of ``mask``: one byte per gap, 255 = skip 255."""
    positions = np.flatnonzero(mask)
    gaps = np.diff(positions, prepend=-1) - 1
    skips = gaps // GAP_SKIP
    stream = np.full(len(gaps) + int(skips.sum()), GAP_SKIP, np.uint8)
    ends = np.cumsum(skips + 1) - 1  # each gap's own byte comes after its skips
    stream[ends] = gaps % GAP_SKIP
    return stream.tobytes()


def _ungaps(buffer: bytes, size: int) -> np.ndarray:
    stream = np.frombuffer(buffer, np.uint8).astype(np.int64)
    entry = stream != GAP_SKIP
    advance = np.cumsum(stream + entry)  # position just after each byte
    mask = np.zeros(size, bool)
    mask[advance[entry] - 1] = True
    return mask


def _positions(mask: np.ndarray) -> dict[str, bytes]:
    """Both position encodings of a sparse tensor's entries."""
    return {"bitmap": np.packbits(mask).tobytes(), "gaps": _gaps(mask)}


def _shuffle(data: bytes, itemsize: int) -> bytes:
    """Byte planes of an array (all first bytes, then all second bytes, …): floats compress better."""
    return np.frombuffer(data, np.uint8).reshape(-1, itemsize).T.tobytes()


def _unshuffle(data: bytes, itemsize: int) -> bytes:
    return np.frombuffer(data, np.uint8).reshape(itemsize, -1).T.tobytes()


def _float_candidates(tensor: torch.Tensor) -> list[tuple[dict, dict]]:
    flat = tensor.detach().cpu().contiguous().reshape(-1)
    if flat.dtype == torch.float32 and flat.numel() and torch.equal(flat.half().float(), flat):
        # exactly representable in float16 (e.g. batch norm rounded by quantize): 2 bytes a value
        return [
            ({**fields, "store": "float16"}, parts)
            for fields, parts in _float_candidates(flat.half())
        ]
    size = flat.element_size()
    layouts = [(False, lambda b: b)] + ([(True, lambda b: _shuffle(b, size))] if size > 1 else [])
    out = [({"encoding": "raw", "shuffle": sh}, {"data": f(_raw_bytes(flat))}) for sh, f in layouts]
    if flat.numel() > 64 and flat.dtype.is_floating_point:
        bits = flat.view({2: torch.int16, 4: torch.int32, 8: torch.int64}[size])
        mask = (bits != 0).numpy()  # on the bit pattern: -0.0 is kept, +0.0 is the fill
        if mask.mean() < 0.5:
            values = _raw_bytes(flat[torch.from_numpy(mask)])
            for name, where in _positions(mask).items():
                for sh, f in layouts:
                    out.append(
                        (
                            {
                                "encoding": "sparse",
                                "positions": name,
                                "shuffle": sh,
                                "nnz": int(mask.sum()),
                            },
                            {"data": f(values), "where": where},
                        )
                    )
    return out


def _narrow(values: torch.Tensor) -> tuple[str, bytes]:
    """Smallest exact storage of float32 values: uint8 integers, float16, or float32."""
    values = values.detach().cpu().float().reshape(-1)
    if torch.equal(values, values.round()) and bool(((values >= 0) & (values <= 255)).all()):
        return "uint8", _raw_bytes(values.to(torch.uint8))
    if torch.equal(values.half().float(), values):
        return "float16", _raw_bytes(values.half())
    return "float32", _raw_bytes(values)


def _code_candidates(codes: WeightCodes) -> list[tuple[dict, dict]]:
    params = {"scale": codes.scale, "zero_point": codes.zero_point, "codebook": codes.codebook}
    stored = {k: _narrow(v) for k, v in params.items() if v is not None}
    params = {k: data for k, (_, data) in stored.items()}
    info = {
        "bits": codes.bits,
        "groups": codes.groups,
        "params": {k: dtype for k, (dtype, _) in stored.items()},
    }
    grouped = codes.codes.cpu().reshape(codes.groups, -1)
    values = grouped.reshape(-1).numpy()
    out = [
        ({"encoding": "codes", "packing": packing, **info}, {"data": data, **params})
        for packing, data in (("bits", _pack(values, codes.bits)), ("bytes", values.tobytes()))
    ]
    counts = torch.zeros(codes.groups, 256, dtype=torch.int64)
    counts.scatter_add_(1, grouped.long(), torch.ones_like(grouped, dtype=torch.int64))
    fill = counts.argmax(1).to(torch.uint8)  # most common code per group (the zero's code)
    mask = (grouped != fill[:, None]).reshape(-1).numpy()
    if mask.mean() < 0.5:
        kept = values[mask]
        for name, where in _positions(mask).items():
            for packing, data in (("bits", _pack(kept, codes.bits)), ("bytes", kept.tobytes())):
                entry = {
                    "encoding": "sparse_codes",
                    "positions": name,
                    "packing": packing,
                    "nnz": int(mask.sum()),
                    **info,
                }
                out.append(
                    (
                        entry,
                        {"data": data, "where": where, "fill": fill.numpy().tobytes(), **params},
                    )
                )
    return out


def _decode_codes(entry: dict, parts: dict[str, bytes], shape: list[int]) -> WeightCodes:
    bits, groups, count = entry["bits"], entry["groups"], int(np.prod(shape))
    if entry["encoding"] == "codes":
        nnz, mask = count, None
    else:
        nnz = entry["nnz"]
        mask = _where(entry, parts["where"], count)
    if entry["packing"] == "bits":
        values = _unpack(parts["data"], bits, nnz)
    else:
        values = np.frombuffer(parts["data"], np.uint8)
    if mask is not None:
        fill = np.frombuffer(parts["fill"], np.uint8)
        full = np.repeat(fill, count // groups)
        full[mask] = values
        values = full
    floats = {
        k: _from_bytes(parts[k], getattr(torch, dtype), [-1]).float()
        for k, dtype in entry["params"].items()
    }
    codebook = floats.get("codebook")
    if codebook is not None:
        codebook = codebook.reshape(groups, 2**bits)
    codes = torch.from_numpy(values.astype(np.uint8).reshape(shape).copy())
    return WeightCodes(
        bits,
        codes,
        scale=floats.get("scale"),
        zero_point=floats.get("zero_point"),
        codebook=codebook,
    )


def _where(entry: dict, buffer: bytes, count: int) -> np.ndarray:
    if entry["positions"] == "bitmap":
        return np.unpackbits(np.frombuffer(buffer, np.uint8))[:count].astype(bool)
    return _ungaps(buffer, count)


# ---------------------------------------------------------------- model structure


def _owner(model: nn.Module, key: str) -> tuple[str, nn.Module, str]:
    module_name, _, attr = key.rpartition(".")
    return module_name, model.get_submodule(module_name), attr


def _build(name: str) -> nn.Module:
    """Zoo architecture ``name``, built without disturbing the caller's random number stream."""

    with torch.random.fork_rng(devices=[]):
        return zoo.spec(name).factory()


@lru_cache(maxsize=1)
def _zoo_signatures() -> dict[str, tuple[type, frozenset[str]]]:

    return {
        name: (type(m), frozenset(m.state_dict())) for name in zoo.names() for m in [_build(name)]
    }


def _zoo_name(model: nn.Module) -> str | None:
    """The zoo architecture ``model`` is an instance of (same class and state_dict keys), if any."""
    signature = (type(model), frozenset(model.state_dict()))
    return next((name for name, sig in _zoo_signatures().items() if sig == signature), None)


def _shape_attributes(model: nn.Module) -> dict[str, dict[str, int]]:
    out = {}
    for name, module in model.named_modules():
        attrs = {
            a: getattr(module, a)
            for a in SHAPE_ATTRIBUTES
            if isinstance(getattr(module, a, None), int)
        }
        if attrs:
            out[name] = attrs
    return out


def _resize(model: nn.Module, shapes: dict[str, list[int]], attributes: dict[str, dict]) -> None:
    """Give ``model`` the stored tensor shapes and module attributes (channel-pruned models)."""
    own = model.state_dict()
    for key, shape in shapes.items():
        if key in own and list(own[key].shape) != shape:
            _, module, attr = _owner(model, key)
            old = getattr(module, attr)
            new = torch.zeros(shape, dtype=old.dtype, device=old.device)
            if isinstance(old, nn.Parameter):
                setattr(module, attr, nn.Parameter(new, requires_grad=old.requires_grad))
            else:
                module.register_buffer(attr, new)
    for name, attrs in attributes.items():
        try:
            module = model.get_submodule(name)
        except AttributeError:
            continue
        for attr, value in attrs.items():
            if hasattr(module, attr):
                setattr(module, attr, value)


# ---------------------------------------------------------------- public API


def save(
    model: nn.Module, path: str | os.PathLike, *, meta: dict | None = None, zoo: str | None = None
) -> int:
    """Write ``model`` to ``path`` in the lab's format; return the file's size in bytes.

    Args:
        model: any float model; layers carrying WeightCodes are stored as codes.
        path: where to write (parent directories must exist).
        meta: JSON-serialisable user data kept in the header.
        zoo: the zoo architecture name; inferred when the model matches one.

    Example:
        >>> import tempfile
        >>> from lab import zoo as model_zoo
        >>> path = tempfile.mktemp(suffix=".lab")
        >>> save(model_zoo.build("mlp"), path, meta={"note": "untrained"}) > 0
        True
    """
    state = model.state_dict()
    if any(not isinstance(t, torch.Tensor) or t.is_quantized for t in state.values()):
        raise ValueError(
            "save() stores float models (with or without WeightCodes); "
            "convert an int8 runtime model back to its float source first"
        )
    entries, blobs = [], []
    for key, tensor in state.items():
        _, module, attr = _owner(model, key)
        codes = codes_of(module) if attr == "weight" else None
        if codes is not None and not torch.equal(codes.decode().to(tensor.device), tensor):
            codes = None  # stale codes (the weight changed since): store the floats
        candidates = _code_candidates(codes) if codes is not None else _float_candidates(tensor)
        fields, parts = min(candidates, key=lambda c: _cost(c[1]))
        coded = {part: (raw, *_entropy_code(raw)) for part, raw in parts.items()}
        fields = {k: v for k, v in fields.items() if v is not False}
        entries.append(
            (
                {
                    "name": key,
                    "dtype": str(tensor.dtype).removeprefix("torch."),
                    "shape": list(tensor.shape),
                    **fields,
                },
                tensor,
                coded,
            )
        )
    try:
        json.dumps(meta or {})
    except TypeError as exc:
        raise ValueError(f"meta must be JSON-serialisable: {exc}") from exc
    header = {
        "format": FORMAT_VERSION,
        "zoo": zoo if zoo is not None else _zoo_name(model),
        "meta": meta or {},
        "modules": _shape_attributes(model),
    }
    pooled = _pool(entries)
    if pooled is not None:
        (codec, data), size = pooled
        header["pool"] = [codec, len(data), size]
        blobs.append(data)
    for entry, _, coded in entries:
        if entry["encoding"] != "pooled":
            entry["parts"] = {
                part: [codec, len(data), len(raw)]  # parts follow each other
                for part, (raw, codec, data) in coded.items()
            }
            blobs += [data for _, _, data in coded.values()]
    header["tensors"] = [entry for entry, _, _ in entries]
    text = json.dumps(header, separators=(",", ":")).encode()
    codec, head = _header_code(text)
    body = head + b"".join(blobs)
    prefix = PREFIX.pack(MAGIC, FORMAT_VERSION, codec, len(head), len(text), zlib.crc32(body))
    Path(path).write_bytes(prefix + body)
    return os.path.getsize(path)


def _pool(entries: list[tuple[dict, torch.Tensor, dict]]) -> tuple[tuple[int, bytes], int] | None:
    """Move small raw float32 tensors (batch norm, biases) into one shared, byte-shuffled part
    when that codes smaller than coding them one by one; marks them ``"pooled"``."""
    small = [
        (entry, tensor, coded)
        for entry, tensor, coded in entries
        if entry["encoding"] == "raw"
        and tensor.dtype == torch.float32
        and entry.get("store") != "float16"
        and 0 < tensor.numel() <= POOL_MAX
    ]
    if len(small) < 2:
        return None
    raw = b"".join(_raw_bytes(tensor) for _, tensor, _ in small)
    pooled = _entropy_code(_shuffle(raw, 4))
    alone = sum(len(data) for _, _, coded in small for _, _, data in coded.values())
    if len(pooled[1]) >= alone:
        return None
    for entry, _, _ in small:
        entry.pop("shuffle", None)
        entry["encoding"] = "pooled"
    return pooled, len(raw)


def _read(path: Path) -> tuple[dict, bytes]:
    data = path.read_bytes()
    if len(data) < PREFIX.size:
        raise ValueError(f"file too short ({len(data)} bytes)")
    magic, version, codec, head_length, text_length, crc = PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise ValueError("not an Efficiency Lab artifact (bad magic bytes)")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"format version {version} is not supported (this lab reads {FORMAT_VERSION})"
        )
    body = data[PREFIX.size :]
    if zlib.crc32(body) != crc:
        raise ValueError("checksum mismatch: the file is truncated or corrupt")
    text = _entropy_decode(body[:head_length], codec, text_length)
    return json.loads(text), body[head_length:]


def _parts(entry: dict, payload: bytes, offset: int) -> tuple[dict[str, bytes], int]:
    """The decoded parts of one tensor whose coded bytes start at ``offset``; and the next offset."""
    out = {}
    for name, (codec, stored, size) in entry["parts"].items():
        coded = payload[offset : offset + stored]
        if len(coded) != stored:
            raise ValueError(f"the payload of {entry['name']} is truncated")
        out[name] = _entropy_decode(coded, codec, size)
        offset += stored
    return out, offset


def _tensor(entry: dict, parts: dict[str, bytes]) -> torch.Tensor:
    if entry.get("store") == "float16":  # a float32 tensor whose values are exact in float16
        return _tensor({**entry, "dtype": "float16", "store": None}, parts).float()
    dtype, shape = getattr(torch, entry["dtype"]), entry["shape"]
    itemsize = torch.empty(0, dtype=dtype).element_size()
    data = _unshuffle(parts["data"], itemsize) if entry.get("shuffle") else parts["data"]
    if entry["encoding"] == "raw":
        return _from_bytes(data, dtype, shape)
    count = int(np.prod(shape))
    flat = torch.zeros(count, dtype=dtype)
    flat[torch.from_numpy(_where(entry, parts["where"], count))] = _from_bytes(data, dtype, [-1])
    return flat.reshape(shape)


def load(path: str | os.PathLike, template: nn.Module | None = None) -> nn.Module:
    """Rebuild the model stored at ``path`` (eval mode), WeightCodes re-attached.

    The user's ``meta`` comes back as ``model.lab_meta``.

    Args:
        path: a file written by :func:`save`.
        template: a module of the same architecture (left untouched: a copy is filled);
            optional when the file names a zoo architecture. Shapes that differ from the
            template's (channel pruning) are resized to the stored ones.

    Raises:
        ValueError: when the file is corrupt or truncated, or fits neither template nor zoo.
    """
    path = Path(path)
    try:
        header, payload = _read(path)
        if template is None:
            if not header.get("zoo"):
                raise ValueError("the file names no zoo architecture: pass a template module")
            model = _build(header["zoo"])
        else:
            model = copy.deepcopy(template)
        state, codes, offset, pool, cursor = {}, {}, 0, b"", 0
        if "pool" in header:
            codec, offset, size = header["pool"]
            pool = _unshuffle(_entropy_decode(payload[:offset], codec, size), 4)
        for entry in header["tensors"]:
            if entry["encoding"] == "pooled":
                count = int(np.prod(entry["shape"]))
                state[entry["name"]] = _from_bytes(
                    pool[cursor : cursor + 4 * count], torch.float32, entry["shape"]
                )
                cursor += 4 * count
                continue
            parts, offset = _parts(entry, payload, offset)
            if entry["encoding"] in ("codes", "sparse_codes"):
                codes[entry["name"]] = _decode_codes(entry, parts, entry["shape"])
                weight = codes[entry["name"]].decode()
                state[entry["name"]] = weight.to(getattr(torch, entry["dtype"]))
            else:
                state[entry["name"]] = _tensor(entry, parts)
        _resize(model, {k: list(v.shape) for k, v in state.items()}, header.get("modules", {}))
        model.load_state_dict(state)
        for key, weight_codes in codes.items():
            attach(_owner(model, key)[1], weight_codes)
    except ValueError as exc:
        raise ValueError(f"{path}: cannot load artifact: {exc}") from exc
    except (
        RuntimeError,
        KeyError,
        TypeError,
        IndexError,
        AttributeError,
        struct.error,
        lzma.LZMAError,
        zstandard.ZstdError,
        json.JSONDecodeError,
    ) as exc:
        raise ValueError(f"{path}: corrupt or incompatible artifact: {exc}") from exc
    model.lab_meta = header.get("meta", {})
    return model.eval()


def state_dict_bytes(model: nn.Module) -> int:
    """Size in bytes of ``torch.save(model.state_dict())`` — the fp32 baseline."""
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "state_dict.pt"
        torch.save(model.state_dict(), target)
        return os.path.getsize(target)
