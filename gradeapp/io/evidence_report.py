"""The report's Evidence section: judge quote grounding, agreement split by it, span agreement (HTML)."""

from __future__ import annotations

import html

import pandas as pd


def _table(frame: pd.DataFrame) -> str:
    if frame is None or frame.empty:
        return "<p class='empty'>nothing to show</p>"
    return frame.to_html(
        index=False, na_rep="", float_format=lambda x: f"{x:.3f}", border=0, classes="t", escape=True
    )


def evidence_section(tables: dict[str, pd.DataFrame]) -> str:
    """Return the report's Evidence section ('' when the project holds no evidence)."""
    if not tables:
        return ""
    split = tables["grounded_agreement"]
    lead = ""
    if not split.empty and split["difference"].notna().any():
        row = split.loc[split["n_grounded"].idxmax()]
        lead = (
            f"<p><b>People credit {row['agree_grounded']:.0%} of judge {html.escape(str(row['judge']))}'s "
            f"credited points that carry a grounded quote and {row['agree_ungrounded']:.0%} of those that do not "
            f"(difference {row['difference']:+.2f}, 95% CI {row['difference_low']:+.2f} to "
            f"{row['difference_high']:+.2f}).</b></p>"
        )
    return "".join(
        [
            "<h2>Evidence: the words behind the verdicts</h2>",
            lead,
            "<p class='note'>A judge's quote is <i>grounded</i> when found in the text after normalising case, "
            "whitespace and quote marks, <i>near</i> when a fuzzy match scores at least 90 of 100, otherwise "
            "<i>not found</i>. Shares with Wilson 95% intervals; the difference by Newcombe's hybrid score "
            "interval; span agreement as token-level F1 and Krippendorff's alpha over tokens, percentile "
            "bootstrap over generations.</p>",
            "<h3>Credited points with a grounded quote, per judge and k</h3>",
            _table(tables["grounding_by_k"]),
            "<h3>People credit the judge's credited points: grounded quote versus not</h3>",
            _table(split),
            "<h3>Span agreement</h3>",
            _table(tables["span_agreement"]),
            "<details><summary>Per judge, criterion and k</summary>",
            _table(tables["grounding"]),
            "</details>",
        ]
    )
