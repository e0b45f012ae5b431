"""``uptflow enhance`` under hostile conditions: no input is ever overwritten (generated folder
layouts), Ctrl-C (exit 130, finished outputs kept, no temporary files), FIFOs / symlink loops /
folders named like images, and file names with newlines or undecodable bytes in any locale."""

from __future__ import annotations

import hashlib
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from uptflow import api
from uptflow.cli import main
from uptflow.io import write as io_write
from uptflow.io.read import load_image

REPO = Path(__file__).resolve().parents[2]


def _image(path: Path, seed: int, size: tuple[int, int] = (24, 16)) -> None:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((rng.random((size[1], size[0], 3)) * 90).astype(np.uint8)).save(path)


def _digest(paths: list[Path]) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def _temporaries(root: Path) -> list[str]:
    return sorted(os.fsdecode(p.name) for p in root.rglob("*") if p.name.endswith(".tmp"))


# ------------------------------------------------------------------------------------ data loss

LAYOUTS = [("a/x.jpg", "a/x.png"), ("a/x.png", "b/x.png"), ("a/x.png", "a/x.jpg", "b/x.png", "b/y.tif")]


@pytest.mark.parametrize("names, out, fmt, suffix",
                         list(itertools.product(LAYOUTS, ["a", "c"], ["same", "png"], ["", "_e"])))
def test_no_input_is_ever_overwritten(capsys, tiny, tmp_path, names, out, fmt, suffix):
    files = [tmp_path / n for n in names]
    for i, f in enumerate(files):
        _image(f, i)
    before = _digest(files)
    inputs = sorted({str(f.parent) for f in files})  # whole folders, as in the reported case
    code = main(["enhance", *inputs, "-o", str(tmp_path / out), "--model", str(tiny), "--format", fmt,
                 "--suffix", suffix, "-q"])
    out_txt, err = capsys.readouterr()
    assert _digest(files) == before, err  # not one byte of any input changed
    assert "Traceback" not in err and _temporaries(tmp_path) == []
    skipped = [ln for ln in err.splitlines() if ": skipped " in ln]
    assert code == (1 if skipped else 0)
    for ln in skipped:
        assert "would overwrite" in ln or "already the output of" in ln


def test_the_reported_data_losses(capsys, tiny, tmp_path):
    d = tmp_path / "d"
    _image(d / "x.jpg", 0)
    _image(d / "x.png", 1)
    before = _digest([d / "x.png"])
    code = main(["enhance", str(d), "-o", str(d), "--format", "png", "--model", str(tiny), "-q"])
    err = capsys.readouterr().err
    assert code == 1 and _digest([d / "x.png"]) == before
    assert f"skipped {d / 'x.jpg'}: its output x.png would overwrite the input {d / 'x.png'}" in err

    a, b = tmp_path / "a", tmp_path / "b"
    _image(a / "x.png", 2)
    _image(b / "x.png", 3)
    before = _digest([a / "x.png", b / "x.png"])
    code = main(["enhance", str(a / "x.png"), str(b / "x.png"), "-o", str(a), "--model", str(tiny), "-q"])
    err = capsys.readouterr().err
    assert code == 1 and _digest([a / "x.png", b / "x.png"]) == before
    assert err.count("would overwrite the input") == 2
    # with --suffix both are enhanced next to their inputs
    code = main(["enhance", str(a / "x.png"), str(b / "x.png"), "-o", str(a), "--suffix", "_e", "--model", str(tiny),
                 "-q"])
    err = capsys.readouterr().err
    assert code == 1 and "already the output of" in err  # b/x.png -> a/x_e.png is taken by a/x.png
    assert (a / "x_e.png").is_file() and _digest([a / "x.png", b / "x.png"]) == before


# ------------------------------------------------------------------------------------ Ctrl-C


def test_ctrl_c_while_writing_exits_130_and_keeps_finished_outputs(capsys, tiny, tmp_path, monkeypatch):
    src = tmp_path / "in"
    for i in range(4):
        _image(src / f"{i}.png", i)
    real = io_write._write_pixels
    calls = []

    def interrupted_on_second(tmp, *args):
        calls.append(tmp)
        if len(calls) == 2:
            tmp.write_bytes(b"\x89PNG half an image")
            raise KeyboardInterrupt
        real(tmp, *args)

    monkeypatch.setattr(io_write, "_write_pixels", interrupted_on_second)
    out = tmp_path / "out"
    code = main(["enhance", str(src), "-o", str(out), "--model", str(tiny), "-q"])
    err = capsys.readouterr().err
    assert code == 130 and "interrupted after 1 image" in err
    assert sorted(p.name for p in out.iterdir()) == ["0.png"]  # no .1.png.XXXX.tmp left behind
    assert load_image(out / "0.png").rgb.shape == (16, 24, 3)


def test_an_interrupt_swallowed_by_library_code_still_stops_the_batch(capsys, tiny, tmp_path, monkeypatch):
    """Library code may eat the KeyboardInterrupt (here: the enhancement catches it and returns a
    result); the batch must still stop with 130 instead of running on and exiting 0."""
    src = tmp_path / "in"
    for i in range(4):
        _image(src / f"{i}.png", i)
    real = api.enhance_array
    calls = []

    def swallowing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1)
            except KeyboardInterrupt:
                pass  # swallowed, as a careless except clause would
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "enhance_array", swallowing)
    code = main(["enhance", str(src), "-o", str(tmp_path / "out"), "--model", str(tiny), "-q"])
    err = capsys.readouterr().err
    assert code == 130 and len(calls) == 2, err
    assert _temporaries(tmp_path) == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigint_to_a_running_enhance_process(tiny, tmp_path):
    src = tmp_path / "in"
    for i in range(40):
        _image(src / f"{i:03d}.png", i, size=(128, 128))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "uptflow", "enhance", str(src), "-o", str(out), "--model", str(tiny),
                             "-q"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.is_dir() and len([p for p in out.iterdir() if p.suffix == ".png"]) >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted after" in err and "Traceback" not in err
    done = sorted(out.iterdir())
    assert 2 <= len(done) < 40 and _temporaries(out) == [], [p.name for p in done]
    for p in done:
        assert load_image(p).rgb.shape == (128, 128, 3)


# ------------------------------------------------------------------------------------ odd inputs


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_symlink_loop_and_image_named_folder_are_skipped(capsys, tiny, tmp_path):
    good = tmp_path / "good.png"
    _image(good, 0)
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop)
    broken = tmp_path / "broken.png"
    broken.symlink_to(tmp_path / "nowhere.png")
    folder = tmp_path / "x.png"
    folder.mkdir()
    out = tmp_path / "out"
    code = main(["enhance", str(fifo), str(loop), str(folder), str(broken), str(good), "-o", str(out),
                 "--model", str(tiny), "-q"])
    captured = capsys.readouterr()
    err = captured.err
    assert code == 1 and (out / "good.png").is_file(), err  # the rest was processed
    assert f"skipped {fifo}: is a named pipe (FIFO), not an image file" in err
    assert f"skipped {loop}: is a symbolic link loop" in err
    assert f"skipped {folder}: is a folder with no images in it" in err
    assert f"skipped {broken}: is a broken symbolic link" in err
    assert "(4 failed)" in captured.out
    # the same entries inside a listed folder are reported, not opened (a FIFO would block)
    code = main(["enhance", str(tmp_path), "-o", str(tmp_path / "out2"), "--model", str(tiny), "-q"])
    err = capsys.readouterr().err
    assert code == 1 and "pipe.png: is a named pipe" in err and (tmp_path / "out2" / "good.png").is_file()
    # and the reader refuses a FIFO given directly instead of blocking on it
    from uptflow.io.read import ImageReadError

    with pytest.raises(ImageReadError, match="named pipe"):
        load_image(fifo)


@pytest.mark.parametrize("encoding", ["utf-8", "ascii", "latin-1"])
def test_names_with_newlines_and_undecodable_bytes(tiny, tmp_path, encoding):
    """Printed escaped, on one line, whatever the terminal's encoding; the files keep their names."""
    src = os.fsencode(tmp_path) + b"/in"
    os.mkdir(src)
    names = [b"new\nline.png", b"caf\xe9.png", "sn\u00f8.png".encode(), b"broken\xff.png"]
    for i, n in enumerate(names):
        _image(Path(os.fsdecode(src + b"/" + n)), i)
    (Path(os.fsdecode(src)) / "fake\n.png").write_bytes(b"not an image")  # forces a skip message
    out = os.fsencode(tmp_path) + b"/out\xfe\nput"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": encoding,
           "LC_ALL": "C.UTF-8"}
    proc = subprocess.run([sys.executable, "-m", "uptflow", "enhance", os.fsdecode(src), "-o", os.fsdecode(out),
                           "--model", str(tiny), "-q"], env=env, capture_output=True, timeout=300)
    err = proc.stderr.decode(encoding)
    stdout = proc.stdout.decode(encoding)
    assert proc.returncode == 1 and "Traceback" not in err, err
    assert sorted(os.listdir(out)) == sorted(names)  # outputs keep the exact byte names
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert all(ln.startswith("uptflow") for ln in lines), err  # no line was split by a name
    assert "skipped " in err and "fake\\n.png" in err
    assert stdout.count("\n") == 1 and "out\\xfe\\nput" in stdout and "(1 failed)" in stdout


def test_evaluate_prints_odd_names_safely(tmp_path):
    pred, gt = os.fsencode(tmp_path) + b"/p", os.fsencode(tmp_path) + b"/g"
    for d in (pred, gt):
        os.mkdir(d)
    for i, n in enumerate([b"a\nb", b"caf\xe9", b"ok"]):
        _image(Path(os.fsdecode(pred + b"/" + n + b".png")), i)
        _image(Path(os.fsdecode(gt + b"/" + n + b".png")), i + 5, size=(24, 16) if n != b"ok" else (8, 8))
    _image(Path(os.fsdecode(pred + b"/only\xff.png")), 9)
    out = os.fsencode(tmp_path) + b"/res\xe9"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": "ascii"}
    proc = subprocess.run([sys.executable, "-m", "uptflow", "evaluate", "--pred-dir", os.fsdecode(pred), "--gt-dir",
                           os.fsdecode(gt), "--no-lpips", "--out", os.fsdecode(out)], env=env, capture_output=True,
                          timeout=300)
    err, stdout = proc.stderr.decode("ascii"), proc.stdout.decode("ascii")
    assert proc.returncode == 1 and "Traceback" not in err, err  # 'ok' is skipped: sizes differ
    assert "skipped ok" in err and "'only\\xff.png'" in err
    assert "'a\\nb'" in stdout and "'caf\\xe9'" in stdout
    assert (Path(os.fsdecode(out)) / "metrics.csv").read_bytes().count(b"caf\xe9") == 1


# ------------------------------------------------------------------------------------ 16 bit


def _u16(h: int = 16, w: int = 24, c: int = 3, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((h, w, c)) * 20000).astype(np.uint16)


def _sixteen_bit_inputs(folder: Path) -> dict[str, int]:
    """name -> channels of 16-bit inputs: RGB and RGBA TIFF (tifffile), RGB and RGBA PNG (our codec)."""
    import tifffile

    from uptflow.io.write import save_image

    folder.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(folder / "rgb.tif", _u16(), photometric="rgb")
    tifffile.imwrite(folder / "rgba.tiff", _u16(c=4, seed=1), photometric="rgb", extrasamples=["unassalpha"])
    tifffile.imwrite(folder / "zip.tif", _u16(seed=2), photometric="rgb", compression="zlib")
    save_image(folder / "p_rgb.png", _u16(seed=3), bit_depth=16)
    a = _u16(c=4, seed=4)
    save_image(folder / "p_rgba.png", a[..., :3], alpha=a[..., 3], bit_depth=16)
    return {"rgb.tif": 3, "rgba.tiff": 4, "zip.tif": 3, "p_rgb.png": 3, "p_rgba.png": 4}


@pytest.mark.parametrize("fmt", ["same", "png"])
def test_sixteen_bit_in_sixteen_bit_out(capsys, tiny, tmp_path, fmt):
    """The README / --help promise: 16-bit PNG/TIFF in -> 16-bit out (more than 8 bits of precision)."""
    import tifffile

    inputs = _sixteen_bit_inputs(tmp_path / "in")
    out = tmp_path / "out"
    code = main(["enhance", str(tmp_path / "in"), "-o", str(out), "--model", str(tiny), "--format", fmt, "-q"])
    err = capsys.readouterr().err
    assert code == 0 and "8-bit" not in err, err
    for name, channels in inputs.items():
        target = out / (name if fmt == "same" else Path(name).stem + ".png")
        loaded = load_image(target)
        assert loaded.bit_depth == 16, target
        raw = tifffile.imread(target) if target.suffix.startswith(".tif") else \
            np.rint(loaded.rgb * 65535).astype(np.uint16)
        assert raw.dtype == np.uint16 and np.any(raw % 257 != 0), target  # not 8-bit values scaled up
        assert (loaded.alpha is not None) == (channels == 4)


def test_tifffile_is_a_dependency():
    """Without tifffile 16-bit colour TIFF silently became 8-bit: it must be a hard dependency."""
    import tomllib

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.replace(" ", "").startswith("tifffile") for d in deps)


def test_missing_tifffile_is_reported_not_silent(capsys, tiny, tmp_path, monkeypatch):
    """Should tifffile still be absent (a broken install), the precision loss is said, not hidden."""
    import tifffile

    tifffile.imwrite(tmp_path / "in.tif", _u16(), photometric="rgb")
    monkeypatch.setitem(sys.modules, "tifffile", None)  # import tifffile -> ImportError
    code = main(["enhance", str(tmp_path / "in.tif"), "-o", str(tmp_path / "out"), "--model", str(tiny), "-q"])
    err = capsys.readouterr().err
    assert code == 0 and "note:" in err and "8-bit" in err and "tifffile" in err
