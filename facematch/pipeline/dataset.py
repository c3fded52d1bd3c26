"""FER2013 CSV → validated per-split arrays.

The raw CSV is never modified. Every row is validated; bad rows are counted, reported
with their line number and skipped, valid rows are all kept. Output directories are
built under a temporary name and renamed into place only when complete, so an
interrupted run never leaves an output that looks finished.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import json
import lzma
import os
import re
import shutil
import time
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facematch import EMOTIONS
from facematch.config import IMAGE_SIZE, SPLITS
from facematch.errors import DatasetError

REQUIRED_COLUMNS = ("emotion", "pixels", "Usage")
N_PIXELS = IMAGE_SIZE * IMAGE_SIZE
_PIXELS_RE = re.compile(rb"[0-9]+(?:[ \t]+[0-9]+)*")
MANIFEST = "manifest.json"


@dataclass
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class SplitArrays:
    images: np.ndarray  # uint8 (N, 48, 48)
    labels: np.ndarray  # int64 (N,), index into EMOTIONS
    lines: np.ndarray  # int64 (N,), 1-based line number in the CSV (header is line 1)


@dataclass
class ParseResult:
    splits: dict[str, SplitArrays]
    rows_seen: int = 0
    errors: list[RowError] = field(default_factory=list)
    sha256: str = ""

    @property
    def rows_valid(self) -> int:
        return sum(len(s.labels) for s in self.splits.values())


def open_binary(path: Path):
    """Open plain, .gz, .xz/.lzma or .bz2 files as a binary stream."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".gz":
        return gzip.open(path, "rb")
    if suffix in (".xz", ".lzma"):
        return lzma.open(path, "rb")
    if suffix == ".bz2":
        return bz2.open(path, "rb")
    return open(path, "rb")


def _split_fields(line: bytes) -> list[bytes]:
    # FER2013 fields never contain commas; quotes are tolerated for files re-saved by spreadsheets.
    if b'"' in line:
        text = line.decode("latin-1")
        return [f.encode("latin-1") for f in next(csv.reader([text]))]
    return line.split(b",")


def _parse_row(fields: list[bytes], col: dict[str, int], n_columns: int):
    """Return (split, label, image) or raise ValueError with the reason."""
    if len(fields) != n_columns:
        raise ValueError(f"expected {n_columns} fields, found {len(fields)}")
    emotion = fields[col["emotion"]].strip()
    if not emotion.isdigit() or not emotion.isascii():
        raise ValueError(f"emotion {emotion[:20].decode('utf-8', 'replace')!r} is not an integer 0-6")
    label = int(emotion)
    if label >= len(EMOTIONS):
        raise ValueError(f"emotion {label} is outside 0-6")
    usage = fields[col["Usage"]].strip().decode("utf-8", "replace")
    if usage not in SPLITS:
        raise ValueError(f"unknown Usage {usage[:30]!r} (expected one of {', '.join(SPLITS)})")
    pixels = fields[col["pixels"]].strip()
    if not _PIXELS_RE.fullmatch(pixels):
        raise ValueError("pixels contain a token that is not a non-negative integer")
    tokens = pixels.split()
    if len(tokens) != N_PIXELS:
        raise ValueError(f"expected {N_PIXELS} pixel values, found {len(tokens)}")
    # Tokens are ASCII digits (checked above), so the only failures left are size ones.
    values = np.array([int(t) if len(t) <= 3 else 256 for t in tokens], dtype=np.int64)
    if values.max() > 255:
        raise ValueError("pixel value above 255")
    return usage, label, values.astype(np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE)


def read_fer2013(path: str | Path, progress: bool = True) -> ParseResult:
    """Parse and validate a fer2013.csv (plain, .gz, .xz or .bz2)."""
    from tqdm import tqdm

    path = Path(path)
    digest = hashlib.sha256()
    collected: dict[str, tuple[list, list, list]] = {s: ([], [], []) for s in SPLITS}
    result = ParseResult(splits={})
    total = path.stat().st_size if path.is_file() else None
    with open_binary(path) as stream:
        raw = getattr(stream, "fileobj", None) or getattr(stream, "_fp", None) or stream
        bar = tqdm(total=total, unit="B", unit_scale=True, desc=f"reading {path.name}",
                   disable=not progress, mininterval=0.5)
        try:
            header_line = stream.readline()
            digest.update(header_line)
            header = header_line.decode("utf-8-sig", "replace").strip().split(",")
            header = [h.strip().strip('"') for h in header]
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            if not header_line or missing:
                raise DatasetError(
                    f"{path}: line 1 must be a header naming the columns {','.join(REQUIRED_COLUMNS)}"
                    f" (missing: {', '.join(missing)})"
                )
            col = {c: header.index(c) for c in REQUIRED_COLUMNS}
            line_no = 1
            last_pos = 0
            for line in stream:
                line_no += 1
                digest.update(line)
                line = line.rstrip(b"\r\n")
                if not line.strip():
                    continue  # blank lines (e.g. a trailing newline) are not rows
                result.rows_seen += 1
                try:
                    split, label, image = _parse_row(_split_fields(line), col, len(header))
                except (ValueError, csv.Error) as exc:
                    result.errors.append(RowError(line_no, str(exc)))
                    continue
                images, labels, lines = collected[split]
                images.append(image)
                labels.append(label)
                lines.append(line_no)
                if progress and line_no % 500 == 0:
                    pos = _position(raw)
                    bar.update(pos - last_pos)
                    last_pos = pos
        except (EOFError, lzma.LZMAError, zlib.error, OSError) as exc:
            # Truncated or corrupt archives, binary files posing as .gz/.xz.
            raise DatasetError(f"{path}: cannot read the file ({exc.__class__.__name__}: {exc})") from None
        finally:
            bar.close()
    result.sha256 = digest.hexdigest()
    for split, (images, labels, lines) in collected.items():
        result.splits[split] = SplitArrays(
            images=np.stack(images) if images else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8),
            labels=np.asarray(labels, dtype=np.int64),
            lines=np.asarray(lines, dtype=np.int64),
        )
    if result.rows_valid == 0:
        raise DatasetError(f"{path}: no valid row among {result.rows_seen} "
                           f"(first problem: {result.errors[0] if result.errors else 'the file has no rows'})")
    return result


def _position(raw) -> int:
    try:
        return raw.tell()
    except (OSError, ValueError, AttributeError):
        return 0


def write_dataset(result: ParseResult, out_dir: str | Path, source: str, images: bool = False) -> Path:
    """Write <split>.npz per split plus manifest.json; optional PNG folders per split/emotion.

    Everything is written under a temporary sibling directory that is renamed over
    out_dir at the end, so readers see either the old complete output or the new one.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        for split, arrays in result.splits.items():
            np.savez(tmp / f"{split}.npz", images=arrays.images, labels=arrays.labels, lines=arrays.lines)
            if images:
                _write_pngs(tmp / "images" / split, arrays)
        if result.errors:
            # Every skipped row, not just the first few printed on the terminal.
            (tmp / "skipped_rows.txt").write_text("".join(f"{e}\n" for e in result.errors))
        manifest = {
            "source": str(source),
            "source_sha256": result.sha256,
            "rows_seen": result.rows_seen,
            "rows_valid": result.rows_valid,
            "rows_skipped": len(result.errors),
            "emotions": list(EMOTIONS),
            "image_size": IMAGE_SIZE,
            "splits": {
                split: {"count": int(len(a.labels)),
                        "class_counts": [int(n) for n in np.bincount(a.labels, minlength=len(EMOTIONS))]}
                for split, a in result.splits.items()
            },
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        # The manifest is written last: its presence marks a complete output.
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        if out_dir.exists():
            os.rename(out_dir, old)
        os.rename(tmp, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _write_pngs(root: Path, arrays: SplitArrays) -> None:
    import cv2

    for emotion in EMOTIONS:
        (root / emotion).mkdir(parents=True, exist_ok=True)
    for image, label, line in zip(arrays.images, arrays.labels, arrays.lines):
        cv2.imwrite(str(root / EMOTIONS[label] / f"{line:06d}.png"), image)


def read_manifest(processed_dir: str | Path) -> dict:
    """The manifest of a complete output of write_dataset; clear error if there is none."""
    path = Path(processed_dir) / MANIFEST
    if not path.is_file():
        raise DatasetError(f"{processed_dir}: not a processed dataset (no {MANIFEST}); "
                           f"run `facematch dataset` first")
    return json.loads(path.read_text())


def load_split(processed_dir: str | Path, split: str) -> SplitArrays:
    """Load one split written by write_dataset; clear error if the output is incomplete."""
    processed_dir = Path(processed_dir)
    read_manifest(processed_dir)
    path = processed_dir / f"{split}.npz"
    try:
        with np.load(path) as data:
            return SplitArrays(images=data["images"], labels=data["labels"], lines=data["lines"])
    except FileNotFoundError:
        raise DatasetError(f"{path} is missing; run `facematch dataset` again") from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"{path} is damaged ({exc}); run `facematch dataset` again") from None


def summarize(result: ParseResult, max_errors: int = 20) -> str:
    """Human-readable report: counts per split, then the skipped rows."""
    lines = [f"rows: {result.rows_seen} read, {result.rows_valid} valid, {len(result.errors)} skipped"]
    for split, arrays in result.splits.items():
        counts = np.bincount(arrays.labels, minlength=len(EMOTIONS))
        lines.append(f"  {split:<12} {len(arrays.labels):>6}  "
                     + " ".join(f"{e}={n}" for e, n in zip(EMOTIONS, counts)))
    if result.errors:
        reasons = Counter(e.reason.split(" (")[0] for e in result.errors)
        lines.append("skipped rows:")
        lines.extend(f"  {e}" for e in result.errors[:max_errors])
        if len(result.errors) > max_errors:
            lines.append(f"  ... and {len(result.errors) - max_errors} more")
        lines.append("by reason: " + "; ".join(f"{r} ×{n}" for r, n in reasons.most_common(5)))
    return "\n".join(lines)
