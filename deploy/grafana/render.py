#!/usr/bin/env python3
"""Renders the overview dashboard's main panels to a PNG with matplotlib,
from the dashboard's own queries (generate.py) evaluated by a Prometheus over
its HTTP API: a picture of what the Grafana dashboard shows.

    python3 deploy/grafana/render.py --prometheus http://127.0.0.1:9090 \
        --application-id zmart --out docs/dashboard-overview.png

Input: a Prometheus URL and an application id; output: a PNG file.
"""

import argparse
import json
import sys
import time
import urllib.parse
import urllib.request

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import generate  # noqa: E402

STATS = ["Clients RUNNING", "Health (worst client)", "Stream threads alive",
         "Failed threads (1h)", "Input lag status", "Input lag"]
PANELS = ["Records processed", "End-to-end latency", "Input lag (records)",
          "Input lag (seconds)", "Threads alive vs running", "Restore remaining records"]
UNITS = {"cps": "per second", "s": "seconds", "short": "records", "none": "", "percentunit": ""}


def api(base, path, **params):
    url = f"{base}/api/v1/{path}?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=30) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(f"{url}: {body}")
    return body["data"]["result"]


def substitute(expr, app_id, step, scrape):
    # Grafana's $__rate_interval: max(4 x scrape interval, step + scrape interval).
    rate = max(4 * scrape, step + scrape)
    return (expr.replace("$__rate_interval", f"{rate}s")
            .replace("$application_id", app_id)
            .replace("$instance", ".*").replace("$thread", ".*").replace("$store", ".*"))


def legend(fmt, labels):
    if fmt in ("", "__auto"):
        return ",".join(f"{k}={v}" for k, v in labels.items() if k != "__name__") or "value"
    out = fmt
    for k, v in labels.items():
        out = out.replace("{{" + k + "}}", v)
    return out


def last_values(base, expr, start, end, step):
    """(labels, last value) of each series over the range: Grafana's lastNotNull."""
    res = api(base, "query_range", query=expr, start=start, end=end, step=step)
    return [(r["metric"], float(r["values"][-1][1]), float(r["values"][-1][0]))
            for r in res if r["values"]]


def stat_text(title, queries, base, expr, start, end, step):
    q = queries[0]
    res = last_values(base, expr, start, end, step)
    if not res:
        return "no data"
    if title == "Input lag status":
        newest = max(t for _, _, t in res)
        return ", ".join(sorted(legend(q["legend"], m) for m, _, t in res if t == newest))
    v = res[0][1]
    if title.startswith("Health"):
        return {0: "healthy", 1: "degraded", 2: "failed"}.get(int(v), str(v))
    if q["unit"] == "s":
        return f"{v:.1f} s"
    return f"{v:.0f}"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prometheus", required=True)
    ap.add_argument("--application-id", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=3, help="time range to show")
    ap.add_argument("--scrape-interval", type=int, default=15,
                    help="Prometheus's scrape interval of ksbridge, seconds")
    args = ap.parse_args(argv)

    by_panel = {}
    for q in generate.queries():
        if q["dashboard"] == "ksbridge-overview.json":
            by_panel.setdefault(q["panel"], []).append(q)
    end = time.time()
    span = 60 * args.minutes
    start = end - span
    step = max(1, int(span / 300))

    plt.style.use("dark_background")
    fig = plt.figure(figsize=(15, 10), facecolor="#111217")
    fig.suptitle(f"Kafka Streams / Overview  -  application_id={args.application_id}",
                 x=0.02, ha="left", fontsize=15, color="#d8d9da")
    grid = fig.add_gridspec(4, 6, height_ratios=[0.55, 1, 1, 1], hspace=0.55, wspace=0.35)
    for i, title in enumerate(STATS):
        ax = fig.add_subplot(grid[0, i])
        ax.set_facecolor("#181b1f")
        ax.set_xticks([])
        ax.set_yticks([])
        qs = by_panel[title]
        expr = substitute(qs[0]["expr"], args.application_id, step, args.scrape_interval)
        text = stat_text(title, qs, args.prometheus, expr, start, end, step)
        color = {"healthy": "#73bf69", "OK": "#73bf69", "degraded": "#ff9830",
                 "failed": "#f2495c"}.get(text, "#5794f2")
        ax.text(0.5, 0.38, text, ha="center", va="center", fontsize=18, color=color,
                transform=ax.transAxes)
        ax.set_title(title, fontsize=9, color="#d8d9da")
    for i, title in enumerate(PANELS):
        ax = fig.add_subplot(grid[1 + i // 2, (i % 2) * 3:(i % 2) * 3 + 3])
        ax.set_facecolor("#181b1f")
        ax.set_title(title, fontsize=11, color="#d8d9da", loc="left")
        ax.grid(color="#2c3235", linewidth=0.6)
        unit = None
        for q in by_panel[title]:
            unit = q["unit"]
            res = api(args.prometheus, "query_range",
                      query=substitute(q["expr"], args.application_id, step,
                                       args.scrape_interval),
                      start=start, end=end, step=step)
            for r in res:
                xs = [(float(t) - end) / 60 for t, _ in r["values"]]
                ax.set_xlim(-span / 60, 0)
                ys = [float(v) for _, v in r["values"]]
                ax.plot(xs, ys, linewidth=1.4, label=legend(q["legend"], r["metric"]))
        ax.set_xlabel("minutes ago", fontsize=8, color="#8e8e8e")
        ax.set_ylabel(UNITS.get(unit, unit or ""), fontsize=8, color="#8e8e8e")
        ax.tick_params(labelsize=8, colors="#8e8e8e")
        if unit == "percentunit":
            ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            short = [lbl if len(lbl) < 40 else lbl[:18] + "..." + lbl[-18:] for lbl in labels]
            ax.legend(handles[:6], short[:6], fontsize=7, loc="upper left", framealpha=0.3)
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", color="#8e8e8e",
                    transform=ax.transAxes)
    fig.savefig(args.out, dpi=80, facecolor=fig.get_facecolor())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
