"""The client report: one self-contained HTML page per client, its contents, `screening report`
(through `report.run`, which the command line calls), and a render in a real headless Chromium
(Debian's package; without it the browser tests skip and say why)."""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import screening
from screening.cli import _report as run  # the command, as the command line runs it
from screening.report import NOTICE, add_arguments, client_report, client_reports
from screening.scoring import plan_for

PHQ = [f"phq9_{n}" for n in range(1, 10)]
GAD = [f"gad7_{n}" for n in range(1, 8)]
ODD = '<b>&"odd"</b>'  # a client label that must be escaped, and a file name made safe


def items(total: int, n: int, top: int = 3) -> list[int]:
    """n answers of at most `top` summing to `total` (spread from the first item)."""
    out = [0] * n
    for i in range(total):
        out[i % n] = min(top, out[i % n] + 1)
    return out


def visits() -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for client, totals in (("a", [18, 17, 9, 7, 4]), (ODD, [12, 13])):
        for k, total in enumerate(totals):
            row: dict[str, Any] = {"client": client, "date": f"2024-{k + 1:02d}-01"}
            row |= dict(zip(PHQ, items(total, 9), strict=True))
            row |= dict(zip(GAD, items(max(total - 4, 0), 7), strict=True))
            rows.append(row)
    df = pd.DataFrame(rows)
    df.loc[1, "phq9_9"] = None  # a's second visit: item 9 blank, flag undetermined, prorated
    df.loc[2, "phq9_9"] = 2  # a's third: item 9 endorsed (nine 1s become a total of 10)
    df.loc[3, "phq9_3"] = 7  # a's fourth: not an answer, so not counted, and said why
    return df


@pytest.fixture(scope="module")
def pages() -> dict[Any, str]:
    return client_reports(visits(), ["phq9", "gad7"])


def test_one_page_per_client(pages: dict[Any, str]) -> None:
    assert set(pages) == {"a", ODD}
    page = pages["a"]
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Client a: screening report</title>" in page
    assert page.count("<section>") == 2  # PHQ-9 total and GAD-7 total
    assert "PHQ-9: Patient Health Questionnaire-9" in page
    assert page.count("<svg ") == 2


def test_self_contained_nothing_is_fetched(pages: dict[Any, str]) -> None:
    page = pages["a"]
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert f'<meta http-equiv="Content-Security-Policy" content="{csp}">' in page
    for forbidden in ("<script", "<link", "<img", "<iframe", "@import"):
        assert forbidden not in page.lower()
    assert not re.search(r"url\((?!#)", page)  # only the SVG's own clip paths
    # the only addresses are XML namespaces and RDF names inside the SVG, never fetched
    for attribute, _ in re.findall(r'([\w:-]+)="(https?://[^"]*)"', page):
        assert attribute.startswith("xmlns") or attribute == "rdf:resource", attribute
    assert not re.search(r'\b(?:src|href|xlink:href)="(?!#)', page)


def test_notice_and_provenance(pages: dict[Any, str]) -> None:
    page = pages["a"]
    assert "<strong>A screening score is not a diagnosis.</strong>" in page
    assert NOTICE.startswith("A screening score is not a diagnosis.")
    for instrument in ("phq9", "gad7"):
        provenance = plan_for(screening.load_instrument(instrument)).provenance
        assert f"<td>{provenance.definition_version}</td>" in page
        assert provenance.definition_hash in page
    assert f"by screening {screening.__version__}" in page


def test_flags_and_administrations_are_marked(pages: dict[Any, str]) -> None:
    page = pages["a"]
    phq = page[page.index("PHQ-9: ") : page.index("GAD-7: ")]
    assert "<span class='undetermined'>? suicidal ideation (undetermined)</span>" in phq
    assert "<span class='flag'>▼ suicidal ideation</span>" in phq
    assert "not counted: item &#x27;phq9_3&#x27; must be one of 0, 1, 2, 3 (got 7)" in phq
    assert "<tr class='excluded'>" in phq
    # the outcomes block, baseline 18 to latest 4: a reliable recovery
    assert "<tr><th>baseline</th><td>18 on 2024-01-01</td>" in phq
    assert "<tr><th>latest</th><td>4 on 2024-05-01</td>" in phq
    assert "<tr><th>reliable recovery</th><td>yes</td>" in phq
    assert "4 administrations counted, 1 not counted" in phq
    assert "Dashed line: caseness (≥ 10)." in phq
    assert "a change of at least 6 points" in phq


def test_labels_are_escaped(pages: dict[Any, str]) -> None:
    page = pages[ODD]
    assert "&lt;b&gt;&amp;&quot;odd&quot;&lt;/b&gt;" in page
    assert ODD not in page
    # b's baseline 12 is a case; one later visit: no recovery judged to be missing
    assert "<tr><th>case at baseline</th><td>yes</td>" in page


def test_one_client_and_the_callers_parameters() -> None:
    given = {"phq9": {"reliable_change": {"reliability": 0.84, "sd": 5.5}}}
    page = client_report(visits(), ["phq9", "gad7"], "a", override=given)
    assert "|RCI| above 1.96 (± 6.1 points)" in page  # 1.96 * sqrt(2) * 5.5 * 0.4 = 6.098
    assert "<td>reliable_change</td>" in page  # the caller's part, in the provenance
    with pytest.raises(KeyError, match="no rows for client 'zz'"):
        client_report(visits(), "phq9", "zz")
    with pytest.raises(ValueError, match="override names an instrument not reported: k10"):
        client_reports(visits(), "phq9", override={"k10": {}})
    with pytest.raises(KeyError, match="no column 'when'"):
        client_reports(visits(), "phq9", date="when")


def test_an_instrument_without_change_parameters_and_a_client_without_dates() -> None:
    df = visits()
    df.loc[df["client"] == ODD, "date"] = "13/01/2024"  # day first: not read, never guessed
    page = client_reports(df, "phq9", clients=[ODD])[ODD]
    assert "<!-- no administration counted -->" in page  # said on the empty plot
    assert "13/01/2024 (not an ISO 8601 date)" in page
    assert "<p>No administration counted (2 not counted: see the table).</p>" in page
    k10 = pd.DataFrame(
        {"client": ["k", "k"], "date": ["2024-01-01", "2024-02-01"]}
        | {f"k10_{n}": [3, 2] for n in range(1, 11)}
    )
    page = client_report(k10, "k10", "k")
    assert "K10" in page
    assert "not judged" in page
    assert "no change parameters for scale &#x27;total&#x27;" in page


# --- `screening report` ---------------------------------------------------------------------------


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="screening report")
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_command_writes_one_page_per_client(tmp_path: Path) -> None:
    source = tmp_path / "visits.csv"
    df = visits().rename(columns=lambda c: c.upper().replace("PHQ9_", "PHQ_"))
    df.to_csv(source, index=False)
    out = io.StringIO()
    args = parse(
        "phq9,gad7",
        str(source),
        "-o",
        str(tmp_path / "reports"),
        "--client",
        "CLIENT",
        "--date",
        "DATE",
        "--prefix",
        "phq9=PHQ_",
        "--pattern",
        "gad7=GAD7_{n}",
    )
    assert run(args, out) == 0
    written = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert written[0] == "a.html"
    assert re.fullmatch(r"b_+odd_+b-[0-9a-f]{8}\.html", written[1])  # made safe, kept apart
    assert out.getvalue() == f"wrote 2 client reports to {tmp_path / 'reports'}\n"
    page = (tmp_path / "reports" / "a.html").read_text(encoding="utf-8")
    assert "▼ suicidal ideation" in page


def test_command_one_client_and_errors(tmp_path: Path) -> None:
    source = tmp_path / "visits.csv"
    visits().to_csv(source, index=False)
    folder = tmp_path / "one"
    assert (
        run(parse("phq9", str(source), "-o", str(folder), "--client-id", "a"), io.StringIO()) == 0
    )
    assert [p.name for p in folder.iterdir()] == ["a.html"]
    with pytest.raises(ValueError, match="no rows for client 'nobody'"):
        run(parse("phq9", str(source), "-o", str(folder), "--client-id", "nobody"), io.StringIO())
    mapped = tmp_path / "mapped.csv"
    visits().rename(columns={"phq9_1": "Q1"}).to_csv(mapped, index=False)
    items = [f"--map=phq9:phq9_{n}={'Q1' if n == 1 else f'phq9_{n}'}" for n in range(1, 10)]
    assert run(parse("phq9", str(mapped), "-o", str(tmp_path / "m"), *items), io.StringIO()) == 0
    with pytest.raises(ValueError, match="'gad7' is not an instrument scored"):
        run(parse("phq9", str(mapped), "-o", str(folder), "--map", "gad7:gad7_1=X"), io.StringIO())
    with pytest.raises(ValueError, match="empty entry"):
        run(parse("phq9,", str(source), "-o", str(folder)), io.StringIO())
    with pytest.raises(ValueError, match="one spec for several instruments"):
        run(parse("phq9,gad7", str(source), "-o", str(folder), "--prefix", "X_"), io.StringIO())
    with pytest.raises(OSError, match=r"none\.csv does not exist"):
        run(parse("phq9", str(tmp_path / "none.csv"), "-o", str(folder)), io.StringIO())
    with pytest.raises(ValueError, match="no column 'who'"):
        run(parse("phq9", str(source), "-o", str(folder), "--client", "who"), io.StringIO())
    with pytest.raises(ValueError, match="--input-format"):
        run(parse("phq9", str(tmp_path / "x.txt"), "-o", str(folder)), io.StringIO())
    with pytest.raises(SystemExit):  # the folder is required
        parse("phq9", str(source))


def test_command_reads_the_file_as_score_does(tmp_path: Path) -> None:
    # one client's bad cell is its row's problem: read as a column, "n/a" made every cell of
    # phq9_9 text, and client a's raised flag read as undetermined
    header = "client,date," + ",".join(f"phq9_{n}" for n in range(1, 10))
    source = tmp_path / "visits.csv"
    source.write_text(f"{header}\na,2024-01-01,{'1,' * 8}3\nb,2024-01-01,{'0,' * 8}n/a\n")
    folder = tmp_path / "pages"
    assert run(parse("phq9", str(source), "-o", str(folder)), io.StringIO()) == 0
    page_a = (folder / "a.html").read_text()
    assert "▼ suicidal ideation" in page_a
    assert "not counted" not in page_a
    assert "must be a whole number" in (folder / "b.html").read_text()
    # a row of no client would be in no page: refused
    source.write_text(f"{header}\na,2024-01-01,{'1,' * 8}3\n,2024-01-02,{'3,' * 8}3\n")
    with pytest.raises(ValueError, match=r"1 row\(s\) have no client \(the first: index 1\)"):
        run(parse("phq9", str(source), "-o", str(folder)), io.StringIO())
    # what `screening score` refuses as ambiguous, so does the report
    lines = tmp_path / "visits.jsonl"
    lines.write_text('{"client": "a", "date": "2024-01-01", "phq9_9": 0, "phq9_9": 3}\n')
    with pytest.raises(ValueError, match="'phq9_9' appears twice"):
        run(parse("phq9", str(lines), "-o", str(folder)), io.StringIO())
    source.write_text(f"{header}\na,2024-01-01,{'1,' * 8}3\n")
    twice = ["--map", "phq9_1=phq9_1", "--map", "phq9_1=phq9_2"]
    with pytest.raises(ValueError, match="--map gives item 'phq9_1' twice"):
        run(parse("phq9", str(source), "-o", str(folder), *twice), io.StringIO())
    twice = ["--context", "sex=female", "--context", "sex=male"]
    with pytest.raises(ValueError, match="--context gives 'sex' twice"):
        run(parse("audit_c", str(source), "-o", str(folder), *twice), io.StringIO())


# --- a real browser -------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (Debian: apt-get install chromium); the report is not "
    "rendered in a browser here",
)


def render(page: Path, shot: Path, profile: Path) -> list[str]:
    """Screenshot `page` in headless Chromium; its console messages (errors, CSP violations)."""
    assert CHROMIUM is not None
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,1400",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shot.is_file(), done.stderr[-2000:]
    return [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


def warm_pixels(shot: Path) -> Any:
    """Where the screenshot shows the bands' yellows and reds (the page has none elsewhere)."""
    from matplotlib import image

    pixels = image.imread(str(shot))[..., :3]
    r, b = pixels[..., 0], pixels[..., 2]
    return (r > 0.85) & (r - b > 0.1)


@needs_chromium
def test_the_report_renders_in_chromium_with_the_plot(tmp_path: Path) -> None:
    page = tmp_path / "a.html"
    page.write_text(client_report(visits(), ["phq9", "gad7"], "a"), encoding="utf-8")
    shot = tmp_path / "a.png"
    console = render(page, shot, tmp_path / "profile")
    assert console == []  # no error, no refused load, nothing logged at all
    warm = warm_pixels(shot)
    rows = np.flatnonzero(warm.sum(axis=1) > 50)  # rows crossing a shaded band
    assert warm.sum() > 50_000
    assert rows.size > 200  # the bands of the first plot span a few hundred pixels
    assert rows.min() < 700  # the first plot is on the first screen, under the notice


@needs_chromium
def test_the_browser_check_sees_a_missing_plot_and_a_console_error(tmp_path: Path) -> None:
    # the checks above are not vacuous: without the SVG nothing is warm, and a script error
    # or a refused load shows in the console
    html = client_report(visits(), "phq9", "a")
    bare = re.sub(r"<svg.*?</svg>", "", html, flags=re.S)
    bare = bare.replace("</body>", '<img src="https://example.invalid/x.png"></body>')
    page = tmp_path / "bare.html"
    page.write_text(bare, encoding="utf-8")
    shot = tmp_path / "bare.png"
    console = render(page, shot, tmp_path / "profile")
    assert warm_pixels(shot).sum() < 1000
    assert any("Content Security Policy" in line for line in console)


def test_the_command_line_runs_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from screening.cli import main

    folder = tmp_path / "out"
    example = Path(__file__).parents[1] / "examples" / "visits.csv"
    argv = ["report", "phq9,gad7", str(example), "-o", str(folder), "--prefix", "phq9=PHQ_"]
    assert main([*argv, "--prefix", "gad7=GAD_", "--client-id", "c01"]) == 0
    assert capsys.readouterr().out == f"wrote 1 client reports to {folder}\n"
    assert [p.name for p in folder.iterdir()] == ["c01.html"]
    assert main(argv) == 2  # gad7 has no columns under its default names: refused, one line
    assert "no column for any gad7 item" in capsys.readouterr().err
