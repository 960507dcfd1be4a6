"""Results and instruments as text and HTML: every fact a reader needs, nothing silent."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest

import screening
from screening.display import (
    describe_instrument,
    instrument_html,
    instrument_repr,
    instrument_text,
    result_html,
    result_repr,
    result_text,
)

from .conftest import DEFINITIONS

VOID = {"br", "hr", "img", "meta", "input", "col"}


class _Balance(HTMLParser):
    """Checks that every tag is closed in order, and collects the text."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack, f"</{tag}> closes nothing"
        assert self.stack.pop() == tag

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def html_text(html: str) -> str:
    parser = _Balance()
    parser.feed(html)
    parser.close()
    assert parser.stack == [], f"unclosed: {parser.stack}"
    return " ".join(" ".join(parser.text).split())


def phq9(values: list[Any]) -> dict[str, Any]:
    return {f"phq9_{n}": v for n, v in enumerate(values, start=1)}


CONTRACT = [3, 2, 1, 2, 1, 2, 1, 2, 1]


def test_a_valid_result_in_one_line() -> None:
    r = screening.score("phq9", phq9(CONTRACT))
    assert result_repr(r) == (
        "<ScoreResult phq9 valid: total 15 (moderately severe), phq2 5 (positive); "
        "flags: suicidal_ideation; undetermined: none>"
    )


def test_a_valid_result_as_text() -> None:
    r = screening.score("phq9", phq9(CONTRACT))
    text = result_text(r)
    lines = text.splitlines()
    assert lines[0] == "phq9: valid"
    assert lines[1].split() == [
        "scale", "score", "band", "answered", "missing", "skipped", "prorated", "reason"
    ]  # fmt: skip
    assert lines[2].split() == ["total", "15", "moderately", "severe", "9", "0", "0", "no"]
    assert "flags raised:" in lines
    assert any(
        line.startswith("  suicidal_ideation (critical; items phq9_9): Item 9") for line in lines
    )
    assert "flags undetermined: none" in lines
    assert f"screening {screening.__version__}" in text
    assert "phq9 definition 1.1.0 (sha256:" in text
    assert lines[-1] == "A screening score is not a diagnosis."


def test_proration_and_an_undetermined_flag_are_stated() -> None:
    r = screening.score("phq9", phq9([*CONTRACT[:8], None]))
    assert r.valid
    assert result_repr(r).endswith("flags: none; undetermined: suicidal_ideation>")
    text = result_text(r)
    assert "yes (unrounded 15.75)" in text
    assert "flags raised: none" in text
    assert (
        "flags undetermined:\n  suicidal_ideation (critical): unanswered or unreadable phq9_9"
        in text
    )
    html = html_text(result_html(r))
    assert "flags raised: none" in html
    assert "flags undetermined" in html
    assert "suicidal_ideation critical phq9_9 unanswered or unreadable: needs asking" in html
    assert "yes (unrounded 15.75)" in html


def test_an_invalid_result_gives_its_reasons_and_keeps_its_flags() -> None:
    r = screening.score("phq9", phq9([3, 2, 5, 2, 1, 2, 1, 2, 1]), on_error="invalid")
    assert result_repr(r).startswith("<ScoreResult phq9 INVALID: total unscored, phq2 5")
    assert "flags: suicidal_ideation" in result_repr(r)
    text = result_text(r)
    assert text.startswith(
        "phq9: INVALID\n  reason: item 'phq9_3' must be one of 0, 1, 2, 3 (got 5)"
    )
    assert "unscored" in text
    assert "item(s) phq9_3 invalid" in text
    html = html_text(result_html(r))
    assert "phq9 : invalid" in html
    assert "reasons: item 'phq9_3' must be one of 0, 1, 2, 3 (got 5)" in html
    assert "suicidal_ideation critical phq9_9 Item 9 endorsed" in html


def test_an_undetermined_classification_says_so() -> None:
    r = screening.score(
        "cssrs_screener", {"cssrs_screener_1": 1, "cssrs_screener_2": 1}, on_error="invalid"
    )
    assert "triage: undetermined" in result_repr(r)
    assert "\ntriage: undetermined\n" in result_text(r)
    html = html_text(result_html(r))
    assert "classification label triage undetermined" in html
    for flag in r.undetermined_flags:
        assert flag.id in html


def test_warnings_are_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    r = screening.score("phq9", phq9(CONTRACT))
    warning = screening.Issue("form_score_differs", "the form states 12; screening scores 15")
    warned = r._replace(issues=(warning._replace(severity="warning"),))
    assert "warning: the form states 12; screening scores 15" in result_text(warned)
    assert "warnings: the form states 12; screening scores 15" in html_text(result_html(warned))


def test_html_escapes_everything_it_shows() -> None:
    r = screening.score("phq9", phq9(CONTRACT))
    hostile = r._replace(instrument="<script>x</script>", reasons=("a < b & c",))
    html = result_html(hostile)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "a &lt; b &amp; c" in html
    html_text(html)


def test_a_result_with_context_and_a_classification() -> None:
    r = screening.score("audit_c", {"audit_c_1": 2, "audit_c_2": 1, "audit_c_3": 0}, sex="female")
    assert "screen: positive" in result_text(r)
    assert "screen positive" in html_text(result_html(r))


def test_an_instrument_in_one_line_and_as_text() -> None:
    inst = screening.load_instrument("phq9")
    assert instrument_repr(inst) == (
        "<Instrument phq9: Patient Health Questionnaire-9, definition 1.1.0, 10 items, "
        "scales total, phq2, flags suicidal_ideation>"
    )
    text = instrument_text(inst)
    assert text.startswith("Patient Health Questionnaire-9 (phq9, definition 1.1.0)\n")
    assert "scale total: PHQ-9 total (items phq9_1, " in text
    assert "range 0-27; up to 2 missing, prorated)" in text
    assert "  20-27: severe" in text
    assert "flag suicidal_ideation (critical):" in text
    assert text.endswith("A screening score is not a diagnosis.")


def test_an_instrument_as_html() -> None:
    inst = screening.load_instrument("epds")
    html = html_text(instrument_html(inst))
    assert "licence permission-required (The Royal College of Psychiatrists)" in html
    assert "item wording labels only" in html
    assert "total" in html
    assert "0-30" in html
    assert "13-30 probable depression" in html
    assert "self_harm_thoughts critical" in html
    assert "(reverse-scored)" in html
    assert html.endswith("A screening score is not a diagnosis.")


def test_an_instrument_with_markup_in_its_name_is_escaped() -> None:
    text = (DEFINITIONS / "good.yaml").read_text(encoding="utf-8")
    inst = screening.parse_instrument(text.replace("A small valid instrument", "A <b> & c"))
    html = instrument_html(inst)
    assert "<b>" not in html.replace("<strong>", "")
    assert "A &lt;b&gt; &amp; c" in html
    html_text(html)


@pytest.mark.parametrize("instrument_id", screening.list_instruments())
def test_every_builtin_renders(instrument_id: str) -> None:
    inst = screening.load_instrument(instrument_id)
    html_text(instrument_html(inst))
    described = describe_instrument(inst)
    assert described["id"] == instrument_id
    assert list(described["scales"]) == list(inst.scales)
    for name, scale in described["scales"].items():
        assert [b["label"] for b in scale["bands"]] == [b.label for b in inst.scales[name].bands]
    assert len(described["items"]) == len(inst.items)
    assert described["definition_hash"].startswith("sha256:")


def test_describe_resolves_options_and_reverse_scores() -> None:
    described = describe_instrument(screening.load_instrument("epds"))
    item3 = next(i for i in described["items"] if i["id"] == "epds_3")
    assert item3["reverse"] is True
    assert [(o["value"], o["score"]) for o in item3["options"]] == [(0, 3), (1, 2), (2, 1), (3, 0)]
    assert described["scales"]["total"]["range"] == [0, 30]


def test_alternative_band_tables_are_shown_beside_the_band() -> None:
    r = screening.score("phq9", phq9(CONTRACT))
    total = r.scales["total"]._replace(bands={"adolescent": "severe", "other": None})
    shown = r._replace(scales={**r.scales, "total": total})
    assert "moderately severe; adolescent: severe; other: -" in result_text(shown)
    assert "moderately severe; adolescent: severe; other: -" in html_text(result_html(shown))


def test_results_and_instruments_show_themselves() -> None:
    """repr, print and a notebook cell use the renderings above (K10: its METEOR table too)."""
    r = screening.score("k10", {f"k10_{n}": 3 for n in range(1, 11)})
    assert (
        repr(r) == "<ScoreResult k10 valid: total 30 (very high); flags: none; undetermined: none>"
    )
    assert str(r) == result_text(r)
    assert "very high; meteor: severe" in str(r)
    assert r._repr_html_() == result_html(r)
    inst = screening.load_instrument("phq9")
    assert repr(inst) == instrument_repr(inst)
    assert repr(inst).startswith("<Instrument phq9: Patient Health Questionnaire-9")
    assert str(inst) == instrument_text(inst)
    assert inst._repr_html_() == instrument_html(inst)
