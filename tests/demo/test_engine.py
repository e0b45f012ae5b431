"""The demo's enhancement step without Gradio: same result as the CLI, clear messages, limits."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from uptflow.cli import main
from uptflow.demo.engine import DemoInputError, Enhancer
from uptflow.demo.results import ResultStore
from uptflow.inference import models as reg
from uptflow.io.write import save_image


@pytest.fixture(scope="module")
def enhancer(tiny_model, tmp_path_factory):
    e = Enhancer(reg.load_cached(str(tiny_model), "cpu"), ResultStore(tmp_path_factory.mktemp("results")),
                 max_pixels=300_000, preview_side=64, model_name="tiny")
    yield e
    e.close()


def _cli(tmp_path, tiny_model, src, *extra):
    out = tmp_path / "cli"
    assert main(["enhance", str(src), "-o", str(out), "--model", str(tiny_model), "--format", "png", "-q",
                 *extra]) == 0
    return out


def test_sixteen_bit_and_alpha_are_kept_as_by_the_cli(enhancer, tiny_model, decode, tmp_path) -> None:
    rng = np.random.default_rng(0)
    src = tmp_path / "deep.png"
    save_image(src, rng.random((48, 72, 3)) * 0.2, alpha=rng.random((48, 72)), bit_depth=16)
    result = enhancer.enhance_file(src)
    assert [f.name for f in result.files] == ["deep_uptflow.png"]
    got = decode(result.files[0])
    assert got.dtype == np.uint16 and got.shape == (48, 72, 4)
    assert np.array_equal(got, decode(_cli(tmp_path, tiny_model, src) / "deep.png"))
    assert result.before.dtype == np.uint8 and max(result.before.shape[:2]) <= 64  # preview, downscaled
    assert (result.width, result.height, result.steps) == (72, 48, 1)


def test_samples_and_seed_follow_the_cli(enhancer, tiny_model, decode, tmp_path) -> None:
    src = tmp_path / "dark.png"
    Image.fromarray((np.random.default_rng(1).random((40, 56, 3)) * 60).astype(np.uint8)).save(src)
    result = enhancer.enhance_file(src, temperature=0.6, samples=2, seed=7)
    assert [f.name for f in result.files] == ["dark_uptflow_s0.png", "dark_uptflow_s1.png"]
    out = _cli(tmp_path, tiny_model, src, "--temperature", "0.6", "--samples", "2", "--seed", "7")
    for i, f in enumerate(result.files):
        assert np.array_equal(decode(f), decode(out / f"dark_s{i}.png"))
    assert not np.array_equal(decode(result.files[0]), decode(result.files[1]))
    assert result.seed == 7 and "seed 7" in enhancer.describe(result, 0.6)
    drawn = enhancer.enhance_file(src, temperature=0.6)  # no seed: one is drawn and reported
    assert drawn.seed is not None and f"seed {drawn.seed}" in enhancer.describe(drawn, 0.6)


def test_each_request_writes_into_its_own_folder(enhancer, tmp_path) -> None:
    src = tmp_path / "a.png"
    Image.new("RGB", (20, 16), (9, 9, 9)).save(src)
    first, second = enhancer.enhance_file(src), enhancer.enhance_file(src)
    assert first.files[0] != second.files[0] and first.files[0].is_file() and second.files[0].is_file()


def test_bad_files_give_one_line_messages_naming_the_file(enhancer, bad_files, monkeypatch) -> None:
    with pytest.raises(DemoInputError, match=r"^notes\.txt: not an image"):
        enhancer.enhance_file(bad_files["text"])
    with pytest.raises(DemoInputError, match=r"^broken\.png: truncated or corrupt"):
        enhancer.enhance_file(bad_files["corrupt"])
    with pytest.raises(DemoInputError, match=r"^my photo\.png: not an image"):
        enhancer.enhance_file(bad_files["text"], name="my photo.png")
    # the pixel limit is checked from the header, before any decoding
    import uptflow.io.read

    def no_decode(*_a, **_k):
        raise AssertionError("a too large image was decoded")

    monkeypatch.setattr(uptflow.io.read, "load_image", no_decode)
    with pytest.raises(DemoInputError, match=r"^huge\.png: image too large: 700x500 = 350,000 pixels; .* 300,000"):
        enhancer.enhance_file(bad_files["huge"])
    with pytest.raises(DemoInputError, match="no image"):
        enhancer.enhance_file(None)


@pytest.mark.parametrize("kw, message", [
    ({"samples": 2}, "needs a temperature > 0"),
    ({"samples": 9, "temperature": 0.5}, "number of samples must be 1..8"),
    ({"temperature": -1.0}, "temperature must be >= 0"),
    ({"temperature": 0.5, "seed": -3}, "seed must be >= 0"),
])
def test_bad_options_give_messages(enhancer, bad_files, kw, message) -> None:
    with pytest.raises(DemoInputError, match=message):
        enhancer.enhance_file(bad_files["huge"], **kw)  # options are checked before the file


def test_exposure_follows_the_cli(enhancer, tiny_model, decode, tmp_path) -> None:
    src = tmp_path / "e.png"
    Image.fromarray((np.random.default_rng(2).random((20, 28, 3)) * 50).astype(np.uint8)).save(src)
    out = _cli(tmp_path, tiny_model, src, "--exposure", "1.5")
    got = enhancer.enhance_file(src, exposure=1.5)
    assert np.array_equal(decode(got.files[0]), decode(out / "e.png"))
    assert "exposure +1.5 EV" in enhancer.describe(got, 0.0)
    plain = enhancer.enhance_file(src)
    assert not np.array_equal(decode(plain.files[0]), decode(got.files[0]))
    with pytest.raises(DemoInputError, match="exposure must be between"):
        enhancer.enhance_file(src, exposure=99.0)


def test_highlights_follow_the_cli(enhancer, tiny_model, decode, tmp_path) -> None:
    """``enhance_file(highlights="protect")`` writes ``uptflow enhance --highlights protect``'s file and
    says so on the page; an unknown mode is one line."""
    src = tmp_path / "h.png"
    a = (np.random.default_rng(3).random((20, 28, 3)) * 40).astype(np.uint8)
    a[5:15, 7:21] = 190  # a lit patch
    Image.fromarray(a).save(src)
    out = _cli(tmp_path, tiny_model, src, "--highlights", "protect")
    got = enhancer.enhance_file(src, highlights="protect")
    assert np.array_equal(decode(got.files[0]), decode(out / "h.png"))
    assert "highlights protect" in enhancer.describe(got, 0.0)
    assert "highlights" not in enhancer.describe(enhancer.enhance_file(src), 0.0)  # auto, the default
    with pytest.raises(DemoInputError, match="highlights must be one of auto, protect, off"):
        enhancer.enhance_file(src, highlights="on")


def test_precision_follows_the_cli(enhancer, tiny_model, decode, tmp_path) -> None:
    """``Enhancer(precision="bfloat16")`` gives ``uptflow enhance --precision bfloat16``'s file, says so on
    the page, and a precision that does not exist is refused in one line."""
    src = tmp_path / "p.png"
    Image.fromarray((np.random.default_rng(3).random((24, 32, 3)) * 60).astype(np.uint8)).save(src)
    out = _cli(tmp_path, tiny_model, src, "--precision", "bfloat16")
    bf16 = Enhancer(enhancer.model, enhancer.store, model_name="tiny", precision="bfloat16")
    got = bf16.enhance_file(src)
    assert np.array_equal(decode(got.files[0]), decode(out / "p.png"))
    assert "precision bfloat16" in bf16.describe(got, 0.0)
    assert "precision" not in enhancer.describe(enhancer.enhance_file(src), 0.0)
    with pytest.raises(ValueError, match="precision must be one of"):
        Enhancer(enhancer.model, enhancer.store, precision="int8")


def _corpus_generator():
    path = Path(__file__).resolve().parents[1] / "cli" / "make_bad_inputs.py"
    spec = importlib.util.spec_from_file_location("make_bad_inputs", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_awkward_input_corpus_equals_the_cli_or_gives_a_message(enhancer, tiny_model, decode, tmp_path) -> None:
    """Every file of the CLI's awkward-input corpus: the CLI's exact PNG, or one DemoInputError line."""
    gen = _corpus_generator()
    files = {n: p for n, p in gen.make_bad_inputs(tmp_path / "corpus").items()
             if n in gen.EXPECTED_VALID and n != "unreadable.png"}  # uploads are always readable
    out = tmp_path / "cli"
    main(["enhance", *map(str, files.values()), "-o", str(out), "--model", str(tiny_model), "--format", "png", "-q"])
    for name, path in sorted(files.items()):
        if gen.EXPECTED_VALID[name]:
            result = enhancer.enhance_file(path)
            assert np.array_equal(decode(result.files[0]), decode(out / f"{path.stem}.png")), name
        else:
            with pytest.raises(DemoInputError) as info:
                enhancer.enhance_file(path)
            assert str(info.value).startswith(f"{name}: ") and "\n" not in str(info.value), name


def test_reader_notes_are_reported_naming_the_upload(enhancer, tmp_path, monkeypatch) -> None:
    import warnings

    import uptflow.io.read

    src = tmp_path / "cache-name-123.png"
    Image.new("RGB", (12, 10), (5, 5, 5)).save(src)
    real = uptflow.io.read.load_image

    def noisy(p):
        warnings.warn(f"{p}: interlaced 16-bit colour PNG is read at 8-bit precision")
        return real(p)

    monkeypatch.setattr(uptflow.io.read, "load_image", noisy)
    result = enhancer.enhance_file(src, name="holiday.png")
    assert result.notes == ["holiday.png: interlaced 16-bit colour PNG is read at 8-bit precision"]
    _, notes = enhancer.preview(src, name="holiday.png")
    assert notes == result.notes
