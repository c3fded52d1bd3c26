"""The two wings stay apart, the package has no import circles, and the commands tell user errors from bugs."""

import ast
import subprocess
import sys

from conftest import REPO, run_command

PACKAGE = REPO / "facematch"

PLAY_WITHOUT_TENSORFLOW = """
import pkgutil, importlib, sys
import numpy as np
import facematch.app, facematch.play
for package in (facematch.play, facematch.app):
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
from facematch.play.classifier import load_classifier
from facematch.play.vision import FrameAnalyzer
annotated, result = FrameAnalyzer().process(np.zeros((480, 640, 3), np.uint8), target="happy", seats=2)
load_classifier().predict(np.zeros((2, 48, 48), np.uint8))
heavy = sorted(m for m in ("tensorflow", "keras", "facematch.pipeline") if m in sys.modules)
print("imported:", heavy)
"""


def test_playing_never_imports_tensorflow_keras_or_the_pipeline():
    result = subprocess.run([sys.executable, "-c", PLAY_WITHOUT_TENSORFLOW], capture_output=True, text=True,
                            cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "imported: []" in result.stdout


def module_name(path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def facematch_imports(path, known: set[str]) -> set[str]:
    """Every facematch module `path` imports, at module level or inside a function alike."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "facematch"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "facematch":
            for alias in node.names:  # `from facematch import cli` imports the module facematch.cli
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
    return found


def import_cycles() -> list[list[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: facematch_imports(path, set(paths)) & set(paths) for name, path in paths.items()}
    for name in list(graph):  # importing a.b.c first imports its packages a and a.b
        graph[name] |= {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)} - {name}
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return cycles


def test_the_package_has_no_import_circles_not_even_through_imports_inside_functions():
    assert import_cycles() == []


def test_the_circle_check_finds_a_circle(tmp_path, monkeypatch):
    import shutil

    fake = tmp_path / "facematch"
    shutil.copytree(PACKAGE / "play", fake / "play")
    (fake / "__init__.py").write_text("")
    (fake / "play" / "rules.py").write_text((PACKAGE / "play" / "rules.py").read_text()
                                            + "\n\ndef later():\n    from facematch.play import session\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    cycles = import_cycles()
    assert ["facematch.play.rules", "facematch.play.session", "facematch.play.rules"] in cycles


def test_no_module_of_the_game_or_the_app_is_a_grab_bag():
    sizes = {p.relative_to(REPO): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {p: n for p, n in sizes.items() if n > 320} == {}


def test_a_user_error_is_one_line_and_a_bug_keeps_its_traceback(tmp_path):
    missing = run_command("evaluate", tmp_path / "no-model", tmp_path / "no-data", tmp_path / "out")
    assert missing.returncode == 1 and missing.stderr.startswith("error: ") and "Traceback" not in missing.stderr
    # Damaged arrays in a processed dataset: a clear message naming the file and the fix.
    processed = tmp_path / "processed"
    processed.mkdir()
    (processed / "manifest.json").write_text('{"source_sha256": "x", "splits": {}}')
    (processed / "Training.npz").write_bytes(b"not an npz file")
    damaged = run_command("visualize", processed, tmp_path / "figures")
    assert damaged.returncode == 1 and "Training.npz" in damaged.stderr and "facematch dataset" in damaged.stderr
    assert "Traceback" not in damaged.stderr
    # Anything else (here a numpy ValueError) is a bug in Facematch: it keeps its traceback.
    bug = subprocess.run([sys.executable, "-c", "from facematch import cli\nimport numpy as np\n"
                          "cli.run(lambda: np.zeros(3).reshape(2, 2))"], capture_output=True, text=True, cwd=REPO)
    assert bug.returncode == 1 and "Traceback" in bug.stderr and "ValueError" in bug.stderr
    assert not bug.stderr.startswith("error: ")


def test_the_command_lists_its_subcommands_and_refuses_unknown_ones():
    listing = subprocess.run([sys.executable, "-m", "facematch", "--help"], capture_output=True, text=True, cwd=REPO)
    assert listing.returncode == 0
    for command in ("play", "setup", "dataset", "train", "ensemble", "choose-views", "fit-offsets", "evaluate"):
        assert f"  {command} " in listing.stdout
    unknown = run_command("fly")
    assert unknown.returncode == 2 and "unknown command 'fly'" in unknown.stderr


def test_commands_keep_native_libraries_quiet_unless_asked(tmp_path):
    # LiteRT's and MediaPipe's INFO lines (e.g. DestroyAccelerator at exit) stay out of the output.
    shipped = REPO / "facematch" / "models" / "fer_vgg16"
    snippet = ("from facematch import native_logs\nnative_logs.quiet()\nimport numpy as np\n"
               "from facematch.play.vision import FrameAnalyzer\n"
               "FrameAnalyzer().process(np.zeros((240, 320, 3), np.uint8), blendshapes=True)\n"
               "import sys\nprint('said by facematch', file=sys.stderr)\n")
    quiet = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert quiet.returncode == 0 and quiet.stderr == "said by facematch\n", quiet.stderr
    loud = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, cwd=REPO, timeout=120,
                          env={**__import__("os").environ, "FACEMATCH_LOG": "debug"})
    assert "INFO: " in loud.stderr and "DestroyAccelerator" in loud.stderr
    assert shipped.is_dir()
