"""`facematch dataset` on generated CSVs: valid rows kept, bad rows reported, clean failures."""

import gzip
import json
import lzma

import numpy as np
import pytest

from conftest import FER_CSV, run_command, write_csv
from facematch.config import SPLITS
from facematch.pipeline.dataset import DatasetError, load_split, read_fer2013


def test_valid_rows_kept_and_every_bad_row_reported_with_its_line(tiny_csv, tmp_path):
    csv_path, expected = tiny_csv
    out = tmp_path / "processed"
    result = run_command("dataset", csv_path, out, "--quiet", check=True)
    for line in expected["bad_lines"]:
        assert f"line {line}:" in result.stdout
    assert f"{len(expected['bad_lines'])} skipped" in result.stdout
    for split in SPLITS:
        data = load_split(out, split)
        assert data.images.dtype == np.uint8 and data.images.shape[1:] == (48, 48)
        assert data.labels.tolist() == expected["valid"][split]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows_skipped"] == len(expected["bad_lines"])
    skipped = (out / "skipped_rows.txt").read_text().splitlines()
    assert [int(s.split()[1].rstrip(":")) for s in skipped] == expected["bad_lines"]


def test_reasons_name_the_problem(tiny_csv):
    csv_path, _ = tiny_csv
    reasons = " | ".join(str(e) for e in read_fer2013(csv_path, progress=False).errors)
    for words in ("expected 2304 pixel values", "not a non-negative integer", "outside 0-6",
                  "unknown Usage 'Validation'", "expected 3 fields", "above 255", "not an integer"):
        assert words in reasons


@pytest.mark.parametrize("opener,suffix", [(gzip.open, ".csv.gz"), (lzma.open, ".csv.xz")])
def test_compressed_inputs_give_the_same_arrays(tiny_csv, tmp_path, opener, suffix):
    csv_path, expected = tiny_csv
    packed = tmp_path / f"packed{suffix}"
    with opener(packed, "wb") as f:
        f.write(csv_path.read_bytes())
    result = read_fer2013(packed, progress=False)
    assert result.splits["Training"].labels.tolist() == expected["valid"]["Training"]
    plain = read_fer2013(csv_path, progress=False)
    assert np.array_equal(result.splits["PublicTest"].images, plain.splits["PublicTest"].images)


def test_images_option_writes_png_folders(tiny_csv, tmp_path):
    csv_path, expected = tiny_csv
    out = tmp_path / "processed"
    run_command("dataset", csv_path, out, "--images", "--quiet", check=True)
    happy = sorted((out / "images" / "Training" / "happy").glob("*.png"))
    assert len(happy) == expected["valid"]["Training"].count(3)


@pytest.mark.parametrize("content,message", [
    ("label,pixels,Usage\n0,1 2,Training\n", "line 1 must be a header"),
    ("emotion,pixels,Usage\n9,1 2 3,Training\n", "no valid row"),
    ("", "line 1 must be a header"),
])
def test_unusable_files_exit_nonzero_with_one_line(tmp_path, content, message):
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    out = tmp_path / "out"
    result = run_command("dataset", bad, out, "--quiet")
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_missing_and_truncated_files_fail_cleanly(tiny_csv, tmp_path):
    csv_path, _ = tiny_csv
    result = run_command("dataset", tmp_path / "nope.csv", tmp_path / "out", "--quiet")
    assert result.returncode == 1 and "no such file" in result.stderr
    truncated = tmp_path / "cut.csv.xz"
    truncated.write_bytes(lzma.compress(csv_path.read_bytes())[:5000])
    result = run_command("dataset", truncated, tmp_path / "out", "--quiet")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_rerun_replaces_output_whole(tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    write_csv(first, per_split=(14, 7, 7), bad_rows=False)
    write_csv(second, per_split=(21, 7, 0), bad_rows=False, seed=1)
    out = tmp_path / "processed"
    run_command("dataset", first, out, "--quiet", check=True)
    run_command("dataset", second, out, "--quiet", check=True)
    assert len(load_split(out, "Training").labels) == 21
    assert len(load_split(out, "PrivateTest").labels) == 0
    assert not (out / "skipped_rows.txt").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_incomplete_output_is_refused(tmp_path):
    (tmp_path / "Training.npz").write_bytes(b"")
    with pytest.raises(DatasetError, match="facematch dataset"):
        load_split(tmp_path, "Training")


@pytest.mark.skipif(not FER_CSV.is_file(), reason="shared FER2013 not present")
def test_shared_fer2013_parses_completely():
    result = read_fer2013(FER_CSV, progress=False)
    assert result.errors == []
    assert {s: len(a.labels) for s, a in result.splits.items()} == \
        {"Training": 28709, "PublicTest": 3589, "PrivateTest": 3589}
    assert np.bincount(result.splits["Training"].labels).tolist() == [3995, 436, 4097, 7215, 4830, 3171, 4965]
