"""Exports for people: the scorecard as one self-contained HTML page, and KPI values as text.

The HTML report is taken into review meetings and mailed around, so it carries everything
inline (CSS, bars drawn as inline SVG) and fetches nothing: no scripts, fonts or images from
anywhere. Values are formatted from the KPI registry's units, so every export reads the same.
"""

from __future__ import annotations

import math
from html import escape

from core.kpi import KPIS
from core.scorecard import KpiTrendView, Scorecard

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#1d2430}
h1{font-size:1.5rem;margin:0 0 .2rem}h2{font-size:1.1rem;margin:1.6rem 0 .5rem}
.sub{color:#5b6472;margin:0 0 1rem}
table{border-collapse:collapse;width:100%;max-width:60rem;font-size:.92rem}
th,td{padding:.35rem .6rem;border-bottom:1px solid #e3e6ea;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f4f6f8;font-weight:600}
.better{color:#1a7f37}.worse{color:#b42318}.muted{color:#8a929e}
.def{color:#5b6472;font-size:.8rem;text-align:left}
.tiles{display:flex;gap:1rem;flex-wrap:wrap}
.tile{border:1px solid #e3e6ea;border-radius:.5rem;padding:.6rem 1rem;min-width:9rem}
.tile b{display:block;font-size:1.3rem}
@media print{body{margin:1cm}}
"""


def format_value(name: str, value: float | int | None) -> str:
    """A KPI value as people read it: fractions as %, cents as dollars, others by unit."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    unit = KPIS[name].unit if name in KPIS else ""
    if unit == "fraction":
        return f"{value * 100:.1f}%"
    if unit == "cents":
        return f"${value / 100:,.2f}"
    if unit in ("kg", "km", "stops/h", "ratio"):
        return f"{value:,.2f}" + (f" {unit}" if unit in ("kg", "km") else "")
    return f"{int(value):,}"


def format_share(value: float | None) -> str:
    return "–" if value is None or math.isnan(value) else f"{value * 100:.1f}%"


def format_change(trend: KpiTrendView) -> str:
    """The change against the previous period: percentage points for rates, else the unit."""
    if trend.change is None:
        return "–"
    if trend.unit == "fraction":
        return f"{trend.change * 100:+.1f} pt"
    if trend.unit == "cents":
        return f"{'+' if trend.change >= 0 else '-'}${abs(trend.change) / 100:,.2f}"
    if isinstance(trend.change, float):
        return f"{trend.change:+,.2f}"
    return f"{trend.change:+,}"


def _bars(items: tuple[tuple[str, int], ...], width: int = 320) -> str:
    """Horizontal bars as inline SVG, one per (label, count), longest = `width` px."""
    if not items:
        return '<p class="muted">No exceptions reported in the period.</p>'
    top = max(n for _, n in items) or 1
    row_h, label_w = 22, 150
    height = row_h * len(items)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{label_w + width + 60}"'
        f' height="{height}" aria-label="exceptions by reason">'
    ]
    for i, (label, n) in enumerate(items):
        y = i * row_h
        w = max(int(width * n / top), 1)
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="12">{escape(label.replace("_", " "))}'
            f'</text><rect x="{label_w}" y="{y + 4}" width="{w}" height="14" '
            f'fill="#4c78a8"/><text x="{label_w + w + 6}" y="{y + 15}" '
            f'font-size="12">{n}</text>'
        )
    parts.append("</svg>")
    # The SVG namespace is an identifier, not a resource: nothing is fetched. It is dropped
    # anyway, since inline SVG in HTML does not need it, so the page holds no URL at all.
    return "".join(parts).replace(' xmlns="http://www.w3.org/2000/svg"', "")


def _kpi_rows(card: Scorecard) -> str:
    rows = []
    for trend in card.kpis:
        css = "" if trend.improved is None else ("better" if trend.improved else "worse")
        rows.append(
            f'<tr><td>{escape(trend.label)}<div class="def">'
            f"{escape(KPIS[trend.name].definition)}</div></td>"
            f"<td><b>{format_value(trend.name, trend.value)}</b></td>"
            f"<td>{format_value(trend.name, trend.previous)}</td>"
            f'<td class="{css}">{format_change(trend)}</td></tr>'
        )
    return "".join(rows)


def _rate_card_rows(card: Scorecard) -> str:
    rows = []
    for rc in card.rate_cards:
        contract = format_value("cost_per_drop_cents", rc.contract_per_drop_cents)
        actual = format_value("cost_per_drop_cents", rc.cost_per_drop_cents)
        terms = (
            f"${rc.per_drop_cents / 100:.2f} per drop, route minimum ${rc.route_minimum_cents / 100:.2f}"
            if rc.fleet_type == "third_party"
            else f"${rc.per_task_cents / 100:.2f} per task + ${rc.per_km_cents / 100:.2f}/km, "
            f"minimum payout ${rc.min_payout_cents / 100:.2f}"
        )
        rows.append(
            f"<tr><td>{escape(rc.fleet_name)}</td><td>{escape(terms)}</td>"
            f"<td>{contract}</td><td>{actual}</td><td>{rc.drops:,}</td></tr>"
        )
    return "".join(rows)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def scorecard_html(card: Scorecard) -> str:
    """The scorecard as one self-contained HTML page (inline CSS and SVG, no external URL)."""
    c = card.compliance
    share = format_share(c.compliant_share)
    ranks = "".join(
        f'<div class="tile">{escape(KPIS[r.kpi].label)}<b>'
        + (f"{_ordinal(r.rank)} of {r.of}" if r.rank is not None else "not ranked")
        + "</b></div>"
        for r in card.ranks
    )
    headline = "".join(
        f'<div class="tile">{escape(KPIS[n].label)}<b>{format_value(n, card.kpi(n).value)}</b></div>'
        for n in ("orders", "on_time_rate", "first_attempt_rate", "failed_cost_cents", "cost_per_drop_cents")
    )
    title = f"{card.vendor_name} scorecard, {card.start} to {card.end}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{escape(card.vendor_name)} ({escape(card.vendor_code)})</h1>
<p class="sub">{escape(card.vendor_kind.replace("_", " "))} · service days {card.start} to
{card.end}, compared with {card.previous_start} to {card.previous_end} · compliance on
{card.compliance_day}</p>
<div class="tiles">{headline}</div>
<h2>Rank among vendors</h2><div class="tiles">{ranks}</div>
<h2>KPIs</h2>
<table><thead><tr><th>KPI</th><th>This period</th><th>Previous period</th><th>Change</th>
</tr></thead><tbody>{_kpi_rows(card)}</tbody></table>
<h2>Exceptions by reason</h2>{_bars(card.exceptions_by_reason)}
<h2>Cost per drop against the rate card</h2>
<table><thead><tr><th>Fleet</th><th>Rate card</th><th>Contract per drop</th>
<th>Actual cost per drop</th><th>Drops</th></tr></thead>
<tbody>{_rate_card_rows(card)}</tbody></table>
<h2>Compliance</h2>
<div class="tiles"><div class="tile">Drivers compliant<b>{share}</b></div>
<div class="tile">Drivers<b>{c.drivers}</b></div>
<div class="tile">Blocked<b>{c.blocked}</b></div>
<div class="tile">Warning<b>{c.warning}</b></div>
<div class="tile">Open violations<b>{c.open_violations}</b></div>
<div class="tile">Open warnings<b>{c.open_warnings}</b></div></div>
<p class="sub">Definitions are the Control Tower KPI registry's, the same for captive, 3PL and
gig fleets. Money in US dollars; rates as shares of orders.</p>
</body></html>
"""


def scorecard_text(card: Scorecard) -> str:
    """The scorecard as plain text for a terminal (the CLI's `--format table`)."""
    width = max(len(k.label) for k in card.kpis) + 2
    lines = [
        f"{card.vendor_name} ({card.vendor_code}), {card.vendor_kind.replace('_', ' ')}",
        f"service days {card.start} to {card.end}; previous period {card.previous_start} "
        f"to {card.previous_end}",
        "",
        f"{'KPI':<{width}}{'this period':>16}{'previous':>16}{'change':>14}",
    ]
    for k in card.kpis:
        lines.append(
            f"{k.label:<{width}}{format_value(k.name, k.value):>16}"
            f"{format_value(k.name, k.previous):>16}{format_change(k):>14}"
        )
    lines += [
        "",
        "rank among vendors: "
        + ", ".join(
            f"{KPIS[r.kpi].label} {r.rank if r.rank is not None else '-'} of {r.of}" for r in card.ranks
        ),
    ]
    lines += [
        "exceptions by reason: "
        + (", ".join(f"{reason.replace('_', ' ')} {n}" for reason, n in card.exceptions_by_reason) or "none")
    ]
    for rc in card.rate_cards:
        lines.append(
            f"rate card {rc.fleet}: contract per drop "
            f"{format_value('cost_per_drop_cents', rc.contract_per_drop_cents)}, actual "
            f"{format_value('cost_per_drop_cents', rc.cost_per_drop_cents)} over "
            f"{rc.drops:,} drops"
        )
    c = card.compliance
    lines.append(
        f"compliance on {card.compliance_day}: {format_share(c.compliant_share)} of "
        f"{c.drivers} drivers compliant, {c.blocked} blocked, {c.warning} warning, "
        f"{c.open_violations} open violations"
    )
    return "\n".join(lines) + "\n"
