"""The printable HTML report in a real browser: headless Chromium renders it, and the test
checks what a billing person sees (text, the seed's colours, alignment, one printed page).

Needs Debian's ``chromium`` package (``.ci/run`` installs it where it is missing, as root);
without it the tests skip, saying why.
"""

from __future__ import annotations

import datetime
import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import attrs
import pytest
from moneyed import Money

import patient_ledger as pl
from patient_ledger.adapters.imports import import_files, load_mapping
from patient_ledger.report import render
from tests.helpers import printed_statement

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium is not installed (Debian's chromium package; .ci/run installs it)",
)
CLINIC = Path(__file__).parent / "data" / "clinic"

# Collected in the page once it is laid out, then dumped with the DOM.
PROBE = """<script>
addEventListener("load", () => {
  const style = (el) => getComputedStyle(el);
  const cells = (css) => [...document.querySelectorAll(css)];
  const out = {
    text: document.body.innerText,
    green: cells("td.green").map((td) => [td.innerText, style(td).backgroundColor]),
    yellow: cells("td.yellow").map((td) => [td.innerText, style(td).backgroundColor]),
    amountAlign: [...new Set(cells("td.amount").map((td) => style(td).textAlign))],
    indent: cells("td.indent").map((td) => parseFloat(style(td).paddingLeft)),
    firstCell: cells("tbody td:first-child").map((td) => parseFloat(style(td).paddingLeft)),
    bold: document.querySelectorAll("body b").length,
    fits: document.documentElement.scrollWidth <= innerWidth,
  };
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.append(pre);
});
</script>"""


def chromium(tmp_path: Path, page: Path, *options: str) -> str:
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
            f"--user-data-dir={tmp_path / 'profile'}",
            *options,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def clinic() -> pl.Ledger:
    files = {kind: [CLINIC / f"{kind}.csv"] for kind in ("visits", "charges", "payments")}
    ledger, _ = import_files(
        pl.Ledger.empty(), files, mapping=load_mapping(CLINIC / "columns.toml")
    )
    # A patient whose id is markup: it must show as text, never as markup.
    return pl.post_payment(
        ledger, pl.Payment("T<b>", "<b>P&1</b>", Money("5.00", "USD"), datetime.date(2025, 3, 2))
    )


def probe(tmp_path: Path, patient_id: str) -> dict[str, object]:
    page = render.report_html(clinic(), patient_id, datetime.date(2025, 3, 31))
    path = tmp_path / "report.html"
    path.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = chromium(tmp_path, path, "--window-size=800,1000", "--dump-dom")
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.DOTALL)
    assert found, dom[-2000:]
    return dict(json.loads(html.unescape(found.group(1))))


def test_a_billing_person_sees_the_report(tmp_path: Path) -> None:
    seen = probe(tmp_path, "P03")
    text = str(seen["text"])
    for shown in [
        "Patient P03",
        "Amounts in USD; aging on 2025-03-31.",
        "Patient payments",
        "Total Paid\tAllocated\tUnallocated\tResponsibility\tStatement Balance\tTotal Balance",
        "250.00\t190.00\t60.00\t290.00\t100.00\t40.00",
        "Live claims feed",
        "V102\t2025-03-04\t190.00\t190.00\t0.00\t0.00\t60.00",
        "L4\t80053 Lab panel\t40.00\t40.00\t0.00",
        "Open unallocated entries",
        "Balance due by age on 2025-03-31",
    ]:
        assert shown in text, shown
    assert re.search(r"\nE\d+\t2025-03-20\tT15\t\(none: general\)\t60.00\n", text)
    # The seed's green box: the patient's $60 credit on both visit rows, in its colour.
    assert seen["green"] == [["60.00", "rgb(183, 228, 176)"]] * 2
    assert seen["yellow"] == []
    assert seen["amountAlign"] == ["right"]
    indents = seen["indent"]
    assert isinstance(indents, list)
    assert len(indents) == 3  # L3, L4, L15 under their visits
    assert min(indents) > max(p for p in seen["firstCell"] if p not in indents)  # type: ignore[union-attr]
    assert seen["fits"]  # no sideways scrolling at a printed page's width


def test_an_id_that_is_markup_shows_as_text(tmp_path: Path) -> None:
    seen = probe(tmp_path, "<b>P&1</b>")
    assert "Patient <b>P&1</b>" in str(seen["text"])
    assert "T<b>\t(none: general)\t5.00" in str(seen["text"])
    assert seen["bold"] == 0


def test_the_report_prints_on_one_page(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text(render.report_html(clinic(), "P03", datetime.date(2025, 3, 31)), "utf-8")
    pdf = tmp_path / "report.pdf"
    chromium(tmp_path, path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page[^s]", data)) == 1


# -- The printed statement (SPEC §12) ----------------------------------------------------------

PRACTICE = "Riverside Family Clinic\n12 Main Street\nSpringfield, IL 62701\n(555) 010-2000"

# What a printed statement must be, measured once the page is laid out at its paper's width
# (on screen the page shows what prints): each page no taller than the paper inside its
# margins, no text wider than its box (nothing cut), the blocks of a page one under another
# (nothing overlapping), and the amounts of each column ending at one right edge.
STATEMENT_PROBE = """<script>
addEventListener("load", () => {
  const mm = (px) => px * 25.4 / 96;
  const box = (el) => el.getBoundingClientRect();
  const right = (td) => {
    const range = document.createRange();
    range.selectNodeContents(td);
    return range.getBoundingClientRect().right;
  };
  const apart = (els, axis) => els.every((el, i) => i === 0 ||
    (axis === "y" ? box(els[i - 1]).bottom <= box(el).top + 0.5
                  : box(els[i - 1]).right <= box(el).left + 0.5));
  const pages = [...document.querySelectorAll("section.page")].map((page) => {
    const style = getComputedStyle(page);
    const pad = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
    const inside = box(page).height - pad;
    const edges = {};
    page.querySelectorAll(".lines td.amount").forEach((td) => {
      if (td.textContent) (edges[td.cellIndex] ||= []).push(right(td));
    });
    return {
      height: mm(inside),
      text: page.innerText,
      stacked: apart([...page.children], "y"),
      sideBySide: [...page.querySelectorAll(".top, .summary, .slip-body")]
        .every((row) => apart([...row.children], "x")),
      edges: Object.values(edges).map((xs) => Math.max(...xs) - Math.min(...xs)),
    };
  });
  const cut = [...document.querySelectorAll("section.page *")]
    .filter((el) => el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0)
    .map((el) => el.tagName + "." + el.className + ": " + el.textContent.slice(0, 40));
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify({pages, cut,
    markup: document.querySelectorAll("section.page i, section.page script").length,
    wide: document.documentElement.scrollWidth > innerWidth});
  document.body.append(pre);
});
</script>"""

#: The paper's height inside the page's margins, in mm.
PAPER_HEIGHT = {"letter": 279.4 - 24, "a4": 297 - 24}


def printed(
    tmp_path: Path,
    lines: int,
    paper: str,
    patient_id: str = "P1",
    *,
    note: str = "",
    short: bool = False,
) -> tuple[int, Any]:
    """A statement of ``lines`` lines (``note`` added to each description) printed to PDF by
    Chromium (its page count) and measured on screen (the probe's findings)."""
    statement = printed_statement(lines, patient_id, short=short)
    if note:
        long = [attrs.evolve(line, description=line.description + note) for line in statement.lines]
        statement = attrs.evolve(statement, lines=long)
    page = render.statement_html(statement, practice=PRACTICE, paper=paper)  # type: ignore[arg-type]
    path = tmp_path / f"statement-{lines}-{paper}.html"
    path.write_text(page, encoding="utf-8")
    pdf = tmp_path / f"statement-{lines}-{paper}.pdf"
    chromium(tmp_path, path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    count = len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))
    probed = tmp_path / f"probe-{lines}-{paper}.html"
    probed.write_text(page.replace("</body>", STATEMENT_PROBE + "</body>"), encoding="utf-8")
    dom = chromium(tmp_path, probed, "--window-size=1000,1400", "--dump-dom")
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.DOTALL)
    assert found, dom[-2000:]
    return count, json.loads(html.unescape(found.group(1)))


@pytest.mark.parametrize(
    ("lines", "paper", "pages"),
    [
        (1, "letter", 1),
        (25, "letter", 1),
        (25, "a4", 1),
        (26, "letter", 2),
        (60, "letter", 2),
        (60, "a4", 2),
    ],
)
def test_a_statement_prints_on_its_pages(
    tmp_path: Path, lines: int, paper: str, pages: int
) -> None:
    count, seen = printed(tmp_path, lines, paper)
    assert count == pages
    assert len(seen["pages"]) == pages  # each printed page is one page of the layout
    assert seen["cut"] == []
    assert not seen["wide"]
    for number, page in enumerate(seen["pages"], start=1):
        assert page["height"] <= PAPER_HEIGHT[paper] + 0.01, (number, page["height"])
        assert page["stacked"], number
        assert page["sideBySide"], number
        assert len(page["edges"]) == 2  # amount and balance
        assert max(page["edges"]) < 0.5, page["edges"]
        text = page["text"]
        assert "Amount\tBalance" in text  # the headings on every page
        if number > 1:
            assert f"Page {number} of {pages}" in text
            assert "(continued)" in text
        if number < pages:
            assert "Continued on the next page." in text
            assert "Amount enclosed" not in text
    first, last = seen["pages"][0]["text"], seen["pages"][-1]["text"]
    for shown in [
        "Riverside Family Clinic\n12 Main Street",
        "Statement",
        "2025-03-01 to 2025-03-31",
    ]:
        assert shown in first
    assert "Opening balance\t\t120.00" in first
    assert "Amount due" in first
    assert "0-30 days\t31-60\t61-90\tover 90" in first
    assert "Please detach and return this part with your payment." in last
    assert "Amount enclosed" in last
    statement = printed_statement(lines)
    assert f"Amount due\t{statement.amount_due.amount}" in last
    every = "".join(page["text"] for page in seen["pages"])
    for line in statement.lines:  # every line printed once, with its running balance
        assert every.count(f"\t{line.ref}\t") == 1
        assert f"{line.amount.amount}\t{line.balance.amount}" in every


@pytest.mark.parametrize("paper", ["letter", "a4"])
def test_lines_that_wrap_continue_on_a_page_of_the_plan(tmp_path: Path, paper: str) -> None:
    """Descriptions of three printed rows each: the plan gives them more pages, and every
    printed page is a page of the plan (headed "continued", never one the browser added)."""
    note = " — a long note the front desk typed in for this line of the statement" * 2
    count, seen = printed(tmp_path, 25, paper, note=note)
    assert count == len(seen["pages"]) > 1
    assert seen["cut"] == []
    for number, page in enumerate(seen["pages"], start=1):
        assert page["height"] <= PAPER_HEIGHT[paper] + 0.01, (number, page["height"])
        assert page["stacked"], number
        assert ("(continued)" in page["text"]) == (number > 1)


@pytest.mark.parametrize("paper", ["letter", "a4"])
@pytest.mark.parametrize(("lines", "count"), [(30, 1), (130, 3)])
def test_pages_full_to_the_plan_s_rows_fit_the_paper(
    tmp_path: Path, paper: str, lines: int, count: int
) -> None:
    count_printed, seen = printed(tmp_path, lines, paper, short=True)
    assert count_printed == len(seen["pages"]) == count
    for number, page in enumerate(seen["pages"], start=1):
        assert page["height"] <= PAPER_HEIGHT[paper] + 0.01, (number, page["height"])


def test_a_statement_shows_markup_as_text(tmp_path: Path) -> None:
    _, seen = printed(tmp_path, 3, "letter", patient_id="<i>P&1</i><script>x()</script>")
    assert seen["markup"] == 0
    assert "<i>P&1</i><script>x()</script>" in seen["pages"][0]["text"]


def test_a_day_sheet_prints_with_its_totals_first(tmp_path: Path) -> None:
    sheet = pl.day_sheet(clinic(), datetime.date(2025, 3, 1), datetime.date(2025, 3, 31))
    path = tmp_path / "daysheet.html"
    page = render.day_sheet_html(sheet, practice=PRACTICE, paper="a4")
    path.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = chromium(tmp_path, path, "--window-size=1000,1400", "--dump-dom")
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.DOTALL)
    assert found, dom[-2000:]
    seen = json.loads(html.unescape(found.group(1)))
    text = str(seen["text"])
    for shown in [
        "Riverside Family Clinic",
        "Day sheet",
        "2025-03-01 to 2025-03-31",
        "Method\tCount\tReceived\tReturned\tNet",
        "Check\t4\t500.00\t-50.00\t450.00",
        "Net\t\t\t\t1280.00",
        "2025-03-02\tT<b>\t<b>P&1</b>\tOther\tPayment\t-\t5.00",
        "2025-03-20\tR1\tP04\tCheck\tRefund\t-\t-50.00",
    ]:
        assert shown in text, shown
    assert text.index("Totals by method") < text.index("Payments, refunds and reversals (18)")
    assert seen["amountAlign"] == ["right"]
    assert seen["bold"] == 1  # the practice's name only: the ids' markup shows as text
    pdf = tmp_path / "daysheet.pdf"
    chromium(
        tmp_path, tmp_path / "daysheet.html", "--no-pdf-header-footer", f"--print-to-pdf={pdf}"
    )
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes())) == 1
