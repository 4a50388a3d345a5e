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

import pytest
from moneyed import Money

import patient_ledger as pl
from patient_ledger import render
from patient_ledger.imports import import_files, load_mapping

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


def probe(tmp_path: Path, patient_id: str, ledger: pl.Ledger | None = None) -> dict[str, object]:
    ledger = clinic() if ledger is None else ledger
    page = render.report_html(ledger, patient_id, datetime.date(2025, 3, 31))
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


PLAN_HEADINGS = (
    *("Plan", "Created", "Amount", "Paid", "Remaining", "Installment", "Next Due"),
    *("Next Amount", "Last Payment", "Overdue", "Status"),
)


def with_a_plan() -> pl.Ledger:
    """The clinic, P03 paying their $40.00 balance in two installments: the first paid, the
    second skipped to the end."""
    day = datetime.date
    ledger = pl.create_payment_plan(
        clinic(),
        pl.PaymentPlan("PL1", "P03", Money("40.00", "USD"), 2, day(2025, 3, 5), day(2025, 3, 1)),
    )
    paid = pl.Payment("T90", "P03", Money("20.00", "USD"), day(2025, 3, 5), plan_id="PL1")
    ledger = pl.post_payment(ledger, paid)
    return pl.skip_installment(ledger, "PL1", 2, on=day(2025, 3, 20))


def test_the_report_shows_the_patients_plans_and_installments(tmp_path: Path) -> None:
    seen = probe(tmp_path, "P03", with_a_plan())
    text = str(seen["text"])
    for shown in [
        "Amounts in USD; aging and payment plans on 2025-03-31.",
        "Payment plans of patient P03 on 2025-03-31",
        "\t".join(PLAN_HEADINGS),
        "PL1\t2025-03-01\t40.00\t20.00\t20.00\t20.00\t2025-05-05\t20.00\t2025-03-05\t0.00\tACTIVE",
        "Installments of plan PL1 on 2025-03-31",
        "#\tDue\tAmount\tPaid\tStatus",
        "1\t2025-03-05\t20.00\t20.00\tPAID",
        "2\t2025-04-05\t20.00\t0.00\tSKIPPED",
        "3\t2025-05-05\t20.00\t0.00\tUPCOMING",
    ]:
        assert shown in text, (shown, text[-1500:])
    assert seen["amountAlign"] == ["right"]
    assert seen["fits"]  # the plan's eleven columns still fit a printed page's width


def test_a_report_without_plans_has_no_plan_tables(tmp_path: Path) -> None:
    page = render.report_html(clinic(), "P03", datetime.date(2025, 3, 31))
    assert "Payment plans" not in page
    assert "Installments" not in page
    assert "aging on 2025-03-31." in page
