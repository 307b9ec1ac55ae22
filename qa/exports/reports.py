"""HR exports: evaluations as CSV or XLSX, and a PDF evaluation report with trend charts (matplotlib). No transcript
text or evidence quotes go into any of them: answers, scores and dates only."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Sequence
from typing import Any

# what XML 1.0 (and so XLSX) cannot hold: control characters (TAB, LF, CR are fine), lone surrogates (not UTF-8 either)
# and the non-characters U+FFFE, U+FFFF
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# Text in a report comes from the data (team names, request types, item ids): "$...$" must print as it is, never be
# parsed as mathtext (an unknown macro was a 500) or handed to LaTeX.
PLAIN_TEXT = {"text.parse_math": False, "text.usetex": False}


def to_csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for r in rows:
        w.writerow(["" if v is None else _cell_text(v) for v in r])
    return buf.getvalue().encode("utf-8-sig")  # BOM: Excel opens UTF-8 CSV correctly


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what spreadsheets read as the start of a formula (OWASP)


def _cell_text(v: Any) -> str:
    """A cell's text that no spreadsheet will run: a leading formula character gets a quote in front (numbers such
    as -3.5 stay numbers), and characters an XLSX cannot hold (control characters) become U+FFFD."""
    s = _ILLEGAL.sub("\ufffd", str(v))
    return "'" + s if s[:1] in FORMULA_STARTS and not _is_number(s) else s


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def to_xlsx(header: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "Evaluations") -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    ws.append(list(header))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in rows:
        ws.append([_cell_text(v) if isinstance(v, str) else v for v in r])
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = ws.dimensions
    for i, name in enumerate(header, 1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, min(28, len(str(name)) + 2))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def to_pdf(
    title: str, subtitle: str, trend: dict[str, Any], header: Sequence[str], rows: Sequence[Sequence[Any]]
) -> bytes:
    """Page 1: average score and pass rate per period, worst items. Then the evaluations, 30 per page."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    buf = io.BytesIO()
    with matplotlib.rc_context(PLAIN_TEXT), PdfPages(buf, metadata={"Title": title, "Creator": "callqa"}) as pdf:
        fig = trend_figure(title, subtitle, trend)
        pdf.savefig(fig)
        plt.close(fig)
        cols = [
            c
            for c in ("call_id", "started_at", "request_type", "percent", "passed", "critical_failed", "reviewed")
            if c in header
        ]
        idx = [list(header).index(c) for c in cols]
        for start in range(0, len(rows), 30):
            fig = plt.figure(figsize=(8.27, 11.69))
            fig.text(
                0.08,
                0.95,
                f"{title}: evaluations {start + 1}-{min(start + 30, len(rows))} of {len(rows)}",
                fontsize=11,
                weight="bold",
            )
            ax = fig.add_axes((0.05, 0.05, 0.9, 0.86))
            ax.axis("off")
            cells = [[_fmt(r[i]) for i in idx] for r in rows[start : start + 30]]
            table = ax.table(cellText=cells, colLabels=cols, loc="upper center", cellLoc="left")
            table.auto_set_font_size(False)
            table.set_fontsize(7)
            table.scale(1, 1.3)
            pdf.savefig(fig)
            plt.close(fig)
    return buf.getvalue()


def trend_figure(title: str, subtitle: str, trend: dict[str, Any]):
    """The report's first page as a matplotlib figure (A4): summary line, score and pass-rate trend, worst items."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context(PLAIN_TEXT):  # every Text made here reads text.parse_math when it is created
        return _trend_figure(plt, title, subtitle, trend)


def _trend_figure(plt, title: str, subtitle: str, trend: dict[str, Any]):
    fig = plt.figure(figsize=(8.27, 11.69))  # A4 portrait
    fig.text(0.08, 0.95, title, fontsize=16, weight="bold")
    fig.text(0.08, 0.925, subtitle, fontsize=9, color="#555")
    overall = trend.get("overall") or {}
    summary = (
        f"calls: {overall.get('calls', 0)}   average score: {_pct(overall.get('average_percent'))}   "
        f"pass rate: {_pct(100 * overall['pass_rate'] if overall.get('pass_rate') is not None else None)}"
    )
    fig.text(0.08, 0.9, summary, fontsize=10)
    ax = fig.add_axes((0.1, 0.55, 0.82, 0.3))
    buckets = trend.get("buckets") or []
    xs = [b["period"] for b in buckets]
    if xs:
        ax.plot(xs, [b["average_percent"] for b in buckets], marker="o", label="average score %")
        ax.plot(xs, [100 * (b["pass_rate"] or 0) for b in buckets], marker="s", label="pass rate %")
        ax.set_ylim(0, 105)
        ax.legend(loc="lower left")
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    else:
        ax.text(0.5, 0.5, "no evaluated calls in this period", ha="center", va="center")
    ax.set_title(f"Trend per {trend.get('period', 'week')}")
    ax.grid(alpha=0.3)
    ax2 = fig.add_axes((0.3, 0.12, 0.62, 0.32))
    worst = trend.get("worst_items") or []
    if worst:
        ax2.barh([w["item"] for w in worst][::-1], [100 * w["pass_rate"] for w in worst][::-1], color="#c0504d")
        ax2.set_xlim(0, 100)
    ax2.set_title("Items passed least often (% of calls where answered)")
    ax2.grid(alpha=0.3, axis="x")
    fig.text(
        0.08,
        0.04,
        f"generated {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by callqa; no transcript text or personal data",
        fontsize=7,
        color="#777",
    )
    return fig


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1f} %"


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.1f}"
    return str(v)[:24]
