"""Grounded answers (issue 20): does a model state the source's fact, and cite the right ``[n]``?

Each question of ``bench/data/grounding.json`` comes with three or four numbered
passages; one holds the answer, the others hold a similar fact (another date,
amount or name). The prompt is the app's own (``webapp.chat.prompt.build_prompt``,
the default system prompt, the passages as numbered sources), so the bench
measures what a store's chat sends. An answer is scored automatically:

* **correct fact**: it states one of the question's ``expected`` strings (case and
  spacing ignored);
* **right citation**: it cites the passage that holds the fact as ``[n]`` (the only
  form the chat links to a source); **cites nothing**: no ``[n]`` at all;
* **time to first token** and **total time** of the streamed answer.

It runs against any provider: the built-in model, a GGUF file, an
OpenAI-compatible server, or a provider configured in Admin > Providers, and
for each wording of the citation line given with ``--prompt`` (``before`` is
the prompt without it). Sampling is greedy (temperature 0) so that runs repeat.

    python bench/answers.py                                  # SmolLM2, before/after the citation line
    python bench/answers.py --local instance/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf --context 1024
    python bench/answers.py --openai http://127.0.0.1:8080/v1 my-model   # key from BENCH_API_KEY
    python bench/answers.py --provider "Local 1.5B"          # as configured in this instance's database
    python bench/answers.py --prompt before --prompt cite --prompt strict --questions 5 --json out.json

The machine is shared: the table is printed with ``uptime``; compare rows of one run.
"""
import argparse
import dataclasses
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from webapp.chat.prompt import CITE_LINE, build_prompt  # noqa: E402
from webapp.chat.retrieval import Source  # noqa: E402
from webapp.providers.interface import Delta, Finish, ProviderConfig  # noqa: E402
from webapp.providers.runtimes import get_provider  # noqa: E402
from webapp.providers.tokens import BUNDLED_MODEL  # noqa: E402

DATA = ROOT / "bench" / "data" / "grounding.json"

#: Wordings of the line after the question, by name. ``before`` is the prompt without one
#: (the app's prompt until issue 20); ``cite`` is the app's ``CITE_LINE``.
PROMPTS = {
    "before": "",
    "cite": CITE_LINE,
    "strict": "Use only the sources above. Give the source of each fact as [n], the number of that source.",
    "brackets": "Answer from the sources above. After each fact, write the number of its source in square brackets.",
    "short": "Answer in one sentence from the sources above and cite its source as [n].",
}

#: What the chat links to a source: ``[n]`` (not ``[n](...)``, a Markdown link).
CITATION = re.compile(r"\[(\d{1,3})\](?!\()")


class DataError(ValueError):
    """The question file is malformed; the message names the question and the field."""


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    #: ``(title, text)`` of each passage, numbered from 1 in this order.
    passages: tuple
    #: The number of the passage that holds the fact (1-based).
    answer: int
    #: Accepted ways of stating the fact.
    expected: tuple
    #: The similar facts of the other passages (reported, not scored).
    distractors: tuple = ()

    def sources(self):
        """The passages as the chat's numbered sources."""
        return [Source(n=n, file_id=0, file_name=title, chunk_id=0, heading="", text=text, snippet="")
                for n, (title, text) in enumerate(self.passages, start=1)]


def load_questions(path=DATA):
    """The questions of ``path``. :raises DataError: a question lacks a field or names no passage."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    questions, seen = [], set()
    for i, item in enumerate(data.get("questions", []), start=1):
        where = f"question {i} ({item.get('id', '?')})"
        try:
            passages = tuple((p["title"], p["text"]) for p in item["passages"])
            question = Question(id=item["id"], question=item["question"], passages=passages,
                                answer=int(item["answer"]), expected=tuple(item["expected"]),
                                distractors=tuple(item.get("distractors", ())))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{where}: missing or malformed field {exc}") from None
        if not 1 <= question.answer <= len(passages):
            raise DataError(f"{where}: answer {question.answer} names no passage (1..{len(passages)})")
        if not question.expected or not any(normalise(e) in normalise(passages[question.answer - 1][1])
                                            for e in question.expected):
            raise DataError(f"{where}: no expected answer appears in passage {question.answer}")
        if question.id in seen:
            raise DataError(f"{where}: the id is used twice")
        seen.add(question.id)
        questions.append(question)
    if not questions:
        raise DataError(f"{path} holds no questions")
    return questions


def normalise(text):
    """Lower case, one space between words, no-break spaces as spaces: what the scorer compares."""
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").lower().split())


@dataclass(frozen=True)
class Score:
    #: The answer states the fact (one of ``expected``).
    correct: bool
    #: The answer cites the passage that holds the fact.
    right_citation: bool
    #: The source numbers the answer cites, in order of first mention.
    cited: tuple
    #: The answer states one of the distractors' facts.
    distractor: bool

    @property
    def cites_nothing(self):
        return not self.cited


def score(question, text):
    """Score one answer to ``question``."""
    plain = normalise(text)
    cited = []
    for match in CITATION.finditer(text):
        n = int(match.group(1))
        if n not in cited:
            cited.append(n)
    return Score(correct=any(normalise(e) in plain for e in question.expected),
                 right_citation=question.answer in cited, cited=tuple(cited),
                 distractor=any(normalise(d) in plain for d in question.distractors))


@dataclass(frozen=True)
class Result:
    provider: str
    prompt: str
    question: str
    text: str
    score: Score
    #: Seconds to the first piece of text (None: nothing came), and to the end.
    ttft: float | None
    total: float
    prompt_tokens: int
    completion_tokens: int
    #: The provider's error message, if the answer failed.
    error: str = ""


def ask(provider, question, cite_line, max_tokens=None):
    """Ask ``question`` through ``provider`` (a ``ChatProvider``) with ``cite_line`` after it."""
    config = provider.config
    built = build_prompt(provider, config, None, question.sources(), [], question.question, cite_line=cite_line)
    parts, ttft, finish = [], None, None
    started = time.perf_counter()
    for event in provider.stream(built.messages, max_tokens=min(max_tokens or built.max_tokens, built.max_tokens)):
        if isinstance(event, Delta) and event.text:
            if ttft is None:
                ttft = time.perf_counter() - started
            parts.append(event.text)
        elif isinstance(event, Finish):
            finish = event
    total = time.perf_counter() - started
    text = "".join(parts)
    return Result(provider=config.name, prompt="", question=question.id, text=text, score=score(question, text),
                  ttft=ttft, total=total, prompt_tokens=finish.usage.prompt_tokens,
                  completion_tokens=finish.usage.completion_tokens,
                  error=finish.error.message if finish.error else "")


def run(configs, prompts, questions, max_tokens=None, progress=None):
    """Every question through every provider with every prompt: a list of ``Result``.

    :param configs: ``ProviderConfig`` list; :param prompts: ``(name, cite_line)`` pairs.
    :param progress: called with each ``Result`` as it comes (the command line prints a dot).
    """
    results = []
    for config in configs:
        provider = get_provider(config)
        # The prompts take turns, so that a machine whose load changes during the run slows every
        # prompt alike. Each turn asks another question: llama.cpp reuses the cached prefix of the
        # previous prompt, and the same question twice in a row would spare the second prompt
        # reading the sources (its time to first token fell from 1.9 s to 0.4 s).
        stride = max(1, len(questions) // len(prompts))
        for turn in range(len(questions)):
            for p, (name, cite_line) in enumerate(prompts):
                question = questions[(turn + p * stride) % len(questions)]
                result = dataclasses.replace(ask(provider, question, cite_line, max_tokens), prompt=name)
                results.append(result)
                if progress:
                    progress(result)
    return results


@dataclass(frozen=True)
class Row:
    provider: str
    prompt: str
    questions: int
    correct: int
    right_citations: int
    cites_nothing: int
    distractors: int
    failed: int
    ttft_median: float | None
    total_median: float
    total_max: float
    completion_tokens_median: float


def summarise(results):
    """One ``Row`` per provider and prompt, in the order they ran."""
    groups = {}
    for result in results:
        groups.setdefault((result.provider, result.prompt), []).append(result)
    rows = []
    for (provider, prompt), group in groups.items():
        ttfts = [r.ttft for r in group if r.ttft is not None]
        rows.append(Row(provider=provider, prompt=prompt, questions=len(group),
                        correct=sum(r.score.correct for r in group),
                        right_citations=sum(r.score.right_citation for r in group),
                        cites_nothing=sum(r.score.cites_nothing for r in group),
                        distractors=sum(r.score.distractor for r in group),
                        failed=sum(bool(r.error) for r in group),
                        ttft_median=statistics.median(ttfts) if ttfts else None,
                        total_median=statistics.median(r.total for r in group),
                        total_max=max(r.total for r in group),
                        completion_tokens_median=statistics.median(r.completion_tokens for r in group)))
    return rows


def render_table(rows):
    """The rows as a Markdown table."""
    lines = ["| provider | prompt | correct fact | right [n] | cites nothing | states a distractor | failed "
             "| TTFT median | total median | total max | answer tokens (median) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        n = row.questions
        ttft = f"{row.ttft_median:.2f} s" if row.ttft_median is not None else "—"
        lines.append(f"| {row.provider} | {row.prompt} | {row.correct}/{n} | {row.right_citations}/{n} "
                     f"| {row.cites_nothing}/{n} | {row.distractors}/{n} | {row.failed}/{n} | {ttft} "
                     f"| {row.total_median:.2f} s | {row.total_max:.2f} s | {row.completion_tokens_median:g} |")
    return "\n".join(lines)


def uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "uptime: unavailable"


def configured_provider(name):
    """The ``ProviderConfig`` of the provider named ``name`` in this instance's database."""
    from webapp import create_app
    from webapp.providers import service

    app = create_app()
    with app.app_context():
        provider = service.find_provider(name)
        if provider is None:
            raise SystemExit(f"No provider named {name!r} in Admin > Providers.")
        return service.config_for(provider)


def configs_from(args):
    configs = []
    for model in args.local or ():
        label = model if model == BUNDLED_MODEL else Path(model).name
        configs.append(ProviderConfig(kind="local", name=f"local {label}", model=model,
                                      context_length=args.context, max_tokens=args.max_tokens, timeout=600))
    for base_url, model in args.openai or ():
        configs.append(ProviderConfig(kind="openai", name=f"{model} at {base_url}", model=model, base_url=base_url,
                                      api_key=os.environ.get("BENCH_API_KEY", ""), context_length=args.context,
                                      max_tokens=args.max_tokens, timeout=600))
    for name in args.provider or ():
        configs.append(configured_provider(name))
    if not configs:
        configs.append(ProviderConfig(kind="local", name=f"local {BUNDLED_MODEL}", model=BUNDLED_MODEL,
                                      context_length=args.context, max_tokens=args.max_tokens, timeout=600))
    # Greedy sampling: the same answers on every run, so prompts and models compare.
    return [dataclasses.replace(c, temperature=0.0) for c in configs]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Grounded answers: correct facts, right citations, timings.")
    parser.add_argument("--local", action="append", metavar="MODEL",
                        help=f"{BUNDLED_MODEL} (the built-in model) or a .gguf path; repeatable")
    parser.add_argument("--openai", action="append", nargs=2, metavar=("BASE_URL", "MODEL"),
                        help="an OpenAI-compatible server (key in BENCH_API_KEY); repeatable")
    parser.add_argument("--provider", action="append", metavar="NAME",
                        help="a provider configured in Admin > Providers; repeatable")
    parser.add_argument("--prompt", action="append", choices=sorted(PROMPTS),
                        help="wordings of the citation line to compare (default: before and cite)")
    parser.add_argument("--questions", type=int, default=0, help="only the first N questions")
    parser.add_argument("--data", default=str(DATA), help="the question file")
    parser.add_argument("--context", type=int, default=2048, help="context length for --local/--openai")
    parser.add_argument("--max-tokens", type=int, default=128, help="the most answer tokens")
    parser.add_argument("--json", metavar="FILE", help="write every answer and its score to FILE")
    parser.add_argument("--show", action="store_true", help="print each answer")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    questions = load_questions(args.data)
    if args.questions:
        questions = questions[:args.questions]
    prompts = [(name, PROMPTS[name]) for name in (args.prompt or ["before", "cite"])]
    configs = configs_from(args)
    print(f"{len(questions)} questions × {len(prompts)} prompts × {len(configs)} providers", file=sys.stderr)

    def progress(result):
        if args.show:
            mark = ("fact " if result.score.correct else "     ") + ("[n] " if result.score.right_citation else "    ")
            print(f"{result.provider} | {result.prompt} | {result.question} | {mark}| {result.text!r}",
                  file=sys.stderr)
        else:
            print("." if not result.error else "E", end="", file=sys.stderr, flush=True)

    load_before = uptime()
    results = run(configs, prompts, questions, args.max_tokens, progress=progress)
    print(file=sys.stderr)
    print(f"before: {load_before}\nafter:  {uptime()}\n")
    print(render_table(summarise(results)))
    if args.json:
        Path(args.json).write_text(json.dumps([dataclasses.asdict(r) for r in results], indent=1))


if __name__ == "__main__":
    main()
