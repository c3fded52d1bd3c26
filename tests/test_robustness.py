"""Property-based tests: random damage to the CSV and random frames never end in a traceback."""

from __future__ import annotations

import gzip
import lzma
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import write_csv
from facematch.config import SPLITS
from facematch.errors import DatasetError
from facematch.pipeline.dataset import load_split, read_fer2013

DAMAGE = ("short", "long", "junk", "huge", "negative", "missing_column", "extra_column", "label", "usage",
          "empty_pixels")


@st.composite
def csv_rows(draw):
    """(rows as text, expected valid (split, label) in order, expected bad line numbers)."""
    n = draw(st.integers(1, 12))
    rows, valid, bad = [], [], []
    for i in range(n):
        label = draw(st.integers(0, 6))
        split = draw(st.sampled_from(SPLITS))
        value = draw(st.integers(0, 255))
        pixels = [str(value)] * 2304
        damage = draw(st.one_of(st.none(), st.sampled_from(DAMAGE)))
        fields = [str(label), " ".join(pixels), split]
        if damage == "short":
            fields[1] = " ".join(pixels[:draw(st.integers(0, 2303))])
        elif damage == "long":
            fields[1] = " ".join(pixels + ["0"] * draw(st.integers(1, 10)))
        elif damage == "junk":
            junk = draw(st.sampled_from(["x", "1.5", "0x10", "١", "+3", "NaN", "--", "1e3"]))
            pixels[draw(st.integers(0, 2303))] = junk
            fields[1] = " ".join(pixels)
        elif damage == "huge":
            pixels[draw(st.integers(0, 2303))] = str(draw(st.integers(256, 10**30)))
            fields[1] = " ".join(pixels)
        elif damage == "negative":
            pixels[draw(st.integers(0, 2303))] = str(draw(st.integers(-10**6, -1)))
            fields[1] = " ".join(pixels)
        elif damage == "missing_column":
            fields.pop(draw(st.integers(0, 2)))
        elif damage == "extra_column":
            fields.append("extra")
        elif damage == "label":
            fields[0] = draw(st.sampled_from(["7", "-1", "happy", "", "3.0", "99999999999999999999"]))
        elif damage == "usage":
            fields[2] = draw(st.sampled_from(["Validation", "", "training", "Test"]))
        elif damage == "empty_pixels":
            fields[1] = ""
        rows.append(",".join(fields))
        line = i + 2  # the header is line 1
        if damage is None:
            valid.append((split, label))
        else:
            bad.append(line)
    return rows, valid, bad


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=csv_rows(), bom=st.booleans(), crlf=st.booleans(),
       compression=st.sampled_from(["none", "gz", "xz"]))
def test_random_damage_is_reported_and_valid_rows_kept(tmp_path_factory, data, bom, crlf, compression):
    rows, valid, bad = data
    newline = "\r\n" if crlf else "\n"
    text = ("\ufeff" if bom else "") + newline.join(["emotion,pixels,Usage", *rows]) + newline
    raw = text.encode("utf-8")
    path = tmp_path_factory.mktemp("csv") / {"none": "f.csv", "gz": "f.csv.gz", "xz": "f.csv.xz"}[compression]
    path.write_bytes({"none": raw, "gz": gzip.compress(raw) if compression == "gz" else raw,
                      "xz": lzma.compress(raw) if compression == "xz" else raw}[compression])
    if not valid:
        with pytest.raises(DatasetError, match="no valid row"):
            read_fer2013(path, progress=False)
        return
    result = read_fer2013(path, progress=False)
    assert [e.line for e in result.errors] == bad
    for split in SPLITS:
        expected = [label for s, label in valid if s == split]
        assert result.splits[split].labels.tolist() == expected


@settings(max_examples=25, deadline=None)
@given(blob=st.binary(min_size=0, max_size=4000), cut=st.integers(1, 400), kind=st.sampled_from(["bin", "gz", "xz"]))
def test_binary_and_truncated_files_fail_with_dataset_error_only(tmp_path_factory, blob, cut, kind):
    """Random bytes are no FER2013 CSV, and a cut archive never passes as a shorter valid one."""
    folder = tmp_path_factory.mktemp("bad")
    good = folder / "good.csv"
    write_csv(good, per_split=(3, 1, 1), bad_rows=False)
    if kind == "bin":
        path = folder / "f.csv"
        path.write_bytes(blob)
    else:
        packed = gzip.compress(good.read_bytes()) if kind == "gz" else lzma.compress(good.read_bytes())
        path = folder / f"f.csv.{kind}"
        path.write_bytes(packed[: max(1, len(packed) - cut)])  # truncated
    with pytest.raises(DatasetError):  # one clear message; anything else is a traceback for the user
        read_fer2013(path, progress=False)


def test_killed_run_never_leaves_an_output_that_looks_complete(tmp_path):
    csv_path = tmp_path / "fer.csv"
    write_csv(csv_path, per_split=(700, 100, 100), bad_rows=True)
    out = tmp_path / "processed"
    command = [sys.executable, "-m", "facematch", "dataset", str(csv_path), str(out),
               "--images", "--quiet"]
    started = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    whole = time.monotonic() - started  # one complete run on this machine, now
    shutil.rmtree(out)
    killed = 0
    for fraction in (0.3, 0.5, 0.7, 0.9, 1.5):  # cut at several moments of a run, and once after its end
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(fraction * whole)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait()
        if out.exists():  # complete: every split loads and matches the manifest
            for split in SPLITS:
                assert len(load_split(out, split).labels) > 0
            assert (out / "skipped_rows.txt").is_file()
        # Whatever a killed run left behind is hidden (a dot-name) and holds no manifest.
        visible = {p.name for p in tmp_path.iterdir() if not p.name.startswith(".")}
        assert visible <= {"fer.csv", "processed"}
        assert not any((p / "manifest.json").exists() for p in tmp_path.iterdir() if p.name.startswith("."))
    assert killed, "no run was cut before it finished: the test did not test killing"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(shape=st.one_of(
    st.tuples(st.integers(0, 64), st.integers(0, 64)),
    st.tuples(st.integers(0, 64), st.integers(0, 64), st.sampled_from([1, 2, 3, 4, 5])),
    st.tuples(st.integers(1, 4)),
), dtype=st.sampled_from([np.uint8, np.uint16, np.int32, np.float32, np.float64, bool]),
    fill=st.sampled_from(["zeros", "ones", "random", "max"]))
def test_frame_analyzer_never_raises(analyzer, shape, dtype, fill):
    rng = np.random.default_rng(0)
    if fill == "random":
        frame = (rng.random(shape) * 300).astype(dtype)
    elif fill == "max":
        frame = np.full(shape, np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else 1e30, dtype=dtype) \
            if dtype is not bool else np.ones(shape, bool)
    else:
        frame = (np.zeros if fill == "zeros" else np.ones)(shape, dtype=dtype)
    annotated, result = analyzer.process(frame)
    assert isinstance(annotated, np.ndarray) and annotated.dtype == np.uint8
    assert annotated.ndim == 3 and annotated.shape[2] == 3
    assert isinstance(result.faces, list)


@pytest.fixture(scope="module")
def analyzer():
    from facematch.play.vision import FrameAnalyzer

    return FrameAnalyzer()


def test_large_frames_and_faces_cut_by_the_border(analyzer):
    from conftest import VIDEO

    if not VIDEO.is_file():
        pytest.skip("sample video not installed (facematch setup sample_video)")
    import av
    import cv2

    with av.open(str(VIDEO)) as container:
        frame = next(f for f in container.decode(video=0) if f.pts * f.time_base > 5).to_ndarray(format="bgr24")
    big = cv2.resize(frame, (3840, 2160))
    annotated, result = analyzer.process(big)
    assert annotated.shape == big.shape and len(result.faces) == 1
    _, full = analyzer.process(frame)
    x, y, w, h = full.primary.box
    cut = frame[:, x + w // 2:]  # the left half of the face is outside the frame
    annotated, result = analyzer.process(np.ascontiguousarray(cut))
    assert annotated.shape == cut.shape and result.error is None
