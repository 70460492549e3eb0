"""The grounding bench (``bench/answers.py``): its question set, its scorer, and a short run of
its runner against the suite's llama.cpp server (SmolLM2). What is checked is the bench, not
the model: no score or timing of the model is asserted."""
import json

import pytest

from bench import answers
from tests.support.model_servers import SERVER_KEY


@pytest.fixture(scope="module")
def questions():
    return answers.load_questions()


def test_the_question_set_is_grounded_with_distractors(questions):
    assert len(questions) >= 20
    for q in questions:
        assert 3 <= len(q.passages) <= 5, q.id
        holder = answers.normalise(q.passages[q.answer - 1][1])
        assert any(answers.normalise(e) in holder for e in q.expected), q.id
        # Each distractor sits in another passage, never in the one that holds the answer.
        assert q.distractors, q.id
        others = " ".join(answers.normalise(text) for n, (_, text) in enumerate(q.passages, start=1) if n != q.answer)
        for distractor in q.distractors:
            assert answers.normalise(distractor) in others, (q.id, distractor)
            assert answers.normalise(distractor) not in holder, (q.id, distractor)
    # The answer is not always the first passage.
    assert len({q.answer for q in questions}) >= 3


def test_a_malformed_question_file_is_refused_with_its_reason(tmp_path):
    good = {"id": "x", "question": "When?", "answer": 2, "expected": ["1887"],
            "passages": [{"title": "a", "text": "In 1902."}, {"title": "b", "text": "In 1887."}]}
    path = tmp_path / "q.json"
    for broken, reason in (({**good, "answer": 3}, "names no passage"),
                           ({**good, "expected": ["1902"]}, "no expected answer appears in passage 2"),
                           ({k: v for k, v in good.items() if k != "passages"}, "missing or malformed field")):
        path.write_text(json.dumps({"questions": [broken]}))
        with pytest.raises(answers.DataError, match=reason):
            answers.load_questions(path)
    path.write_text(json.dumps({"questions": [good, good]}))
    with pytest.raises(answers.DataError, match="used twice"):
        answers.load_questions(path)


def test_the_scorer(questions):
    q = next(q for q in questions if q.id == "sabatier-catalyst")
    assert q.answer == 2
    right = answers.score(q, "The catalyst is maintained every 90\u00a0Days [2].")
    assert right.correct and right.right_citation and right.cited == (2,) and not right.distractor
    wrong_source = answers.score(q, "Every 90 days [1][3], the filters every 60 days [1].")
    assert wrong_source.correct and not wrong_source.right_citation and wrong_source.cited == (1, 3)
    assert wrong_source.distractor
    nothing = answers.score(q, "The catalyst is a nickel-aluminum alloy.")
    assert not nothing.correct and nothing.cites_nothing and not nothing.right_citation
    # A Markdown link is not a citation the chat shows.
    assert answers.score(q, "See [2](http://example.com): 90 days.").cites_nothing


def test_summary_and_table():
    score = answers.Score(correct=True, right_citation=False, cited=(), distractor=False)
    results = [answers.Result("P", "before", "q1", "a", score, 0.5, 2.0, 100, 10),
               answers.Result("P", "before", "q2", "b", score, None, 4.0, 100, 0, error="The model server failed."),
               answers.Result("P", "cite", "q1", "c [1]", answers.Score(True, True, (1,), False), 0.7, 3.0, 110, 12)]
    rows = answers.summarise(results)
    assert [(r.prompt, r.questions, r.correct, r.right_citations, r.cites_nothing, r.failed) for r in rows] == [
        ("before", 2, 2, 0, 2, 1), ("cite", 1, 1, 1, 0, 0)]
    assert rows[0].ttft_median == 0.5 and rows[0].total_median == 3.0 and rows[0].total_max == 4.0
    table = answers.render_table(rows).splitlines()
    assert table[0].startswith("| provider | prompt | correct fact | right [n]")
    assert table[2] == "| P | before | 2/2 | 0/2 | 2/2 | 0/2 | 1/2 | 0.50 s | 3.00 s | 4.00 s | 5 |"


def test_the_runner_against_an_openai_compatible_server(llama_server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BENCH_API_KEY", SERVER_KEY)
    out = tmp_path / "answers.json"
    answers.main(["--openai", llama_server.url, "smollm2", "--questions", "2", "--max-tokens", "6",
                  "--prompt", "before", "--prompt", "cite", "--json", str(out)])
    printed = capsys.readouterr().out
    assert "load average" in printed
    rows = [line for line in printed.splitlines() if line.startswith("| smollm2 at ")]
    assert [row.split(" | ")[1] for row in rows] == ["before", "cite"]
    results = json.loads(out.read_text())
    assert len(results) == 4 and {r["question"] for r in results} == {"sabatier-catalyst", "lighthouse-built"}
    for result in results:
        assert result["error"] == "" and result["total"] > 0 and 0 < result["completion_tokens"] <= 6
        assert result["ttft"] is not None and result["ttft"] <= result["total"]
        assert set(result["score"]) == {"correct", "right_citation", "cited", "distractor"}
    # The citation line is in the prompt of the "cite" runs only: their prompts are longer.
    by = {(r["prompt"], r["question"]): r["prompt_tokens"] for r in results}
    assert by[("cite", "sabatier-catalyst")] > by[("before", "sabatier-catalyst")]
