"""Ratios to the ceiling, the performance targets, and the Markdown tables."""

from __future__ import annotations

import statistics

# The share of the ceiling each backend should reach on indexed lookups and one-attribute PATCH
# (benchmarks/README.md explains the figures).
LOOKUP_TARGET = {"memory": 0.50, "sqlite": 0.50, "postgres": 0.35, "redis": 0.35, "mysql": 0.35}
PATCH_TARGET = 0.40
MEMBERS_PER_SECOND_TARGET = 5000
INDEXED = ("lookup userName eq", "lookup externalId eq")
SUBSTRING = ("lookup userName co", "lookup userName sw", "lookup userName ew")
SUBSTRING_TARGET = 0.25  # co/sw/ew from the trigram indexes, every backend


def round_spread(ratios: list[float]) -> str:
    """Per-round ratios as a table cell: median (min–max)."""
    return f"{statistics.median(ratios):.3f} ({min(ratios):.3f}–{max(ratios):.3f})"


def add_ratios(rows: list[dict], ceilings: dict) -> None:
    """`ratio`: throughput rows against the ceiling's req/s, latency rows against its one-client p50."""
    for row in rows:
        ceiling = ceilings.get(row["workers"])
        if not ceiling:
            row["ratio"] = None
            continue
        if row["kind"] == "throughput":
            requests_per_second = row["value"] * row.get("requests_per_unit", 1)
            row["ratio"] = round(requests_per_second / ceiling["rps"], 3)
        else:
            row["ratio"] = round(ceiling["seq_p50_ms"] / row["p50_ms"], 3) if row.get("p50_ms") else None
        row["target"] = _target(row)


def _target(row: dict) -> str:
    name, ratio = row["workload"], row["ratio"]
    if name in INDEXED and row.get("phase") == "main":
        goal = LOOKUP_TARGET[row["backend"]]
        return f"{'met' if ratio >= goal else 'MISSED'} (>= {goal:.0%})"
    if name in SUBSTRING and row.get("phase") == "main":
        return f"{'met' if ratio >= SUBSTRING_TARGET else 'MISSED'} (>= {SUBSTRING_TARGET:.0%})"
    if name.startswith("PATCH replace"):
        return f"{'met' if ratio >= PATCH_TARGET else 'MISSED'} (>= {PATCH_TARGET:.0%})"
    if row["unit"] == "members/s":
        ok = row["value"] >= MEMBERS_PER_SECOND_TARGET
        return f"{'met' if ok else 'MISSED'} (>= {MEMBERS_PER_SECOND_TARGET} members/s)"
    return ""


def _fmt(value, suffix: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.1f}{suffix}" if value >= 10 else f"{value:.2f}{suffix}"
    return f"{value:,}{suffix}"


def main_table(rows: list[dict]) -> str:
    lines = ["| backend | workload | N | result | p50 ms | p99 ms | vs ceiling | target | notes |",
             "|---|---|---:|---:|---:|---:|---:|---|---|"]
    for row in rows:
        if row.get("phase") != "main":
            continue
        notes = [row.get("note") or ""]
        if row.get("first_batches_ms") is not None:
            notes.append(f"batch p50 first 5: {row['first_batches_ms']} ms, last 5: {row['last_batches_ms']} ms")
        if row.get("lookup_p50_ms") is not None:
            notes.append(f"lookup p50 {row['lookup_p50_ms']} ms")
        if row["errors"]:
            notes.append(f"{row['errors']} errors: {'; '.join(row['error_samples'])[:160]}")
        ratio = "–" if row.get("ratio") is None else f"{row['ratio']:.0%}"
        lines.append(f"| {row['backend']} | {row['workload']} | {_fmt(row['n'])} | {_fmt(row['value'])} {row['unit']} | "
                     f"{_fmt(row['p50_ms'])} | {_fmt(row['p99_ms'])} | {ratio} | {row.get('target', '')} | "
                     f"{'; '.join(n for n in notes if n)} |")
    return "\n".join(lines)


# How much a scaled workload's p50 may grow from the smallest size to the largest: an indexed
# equality lookup 2x, a substring lookup (its index's postings grow with the directory) 3x.
GROWTH_AIM = {"co": 3.0, "sw": 3.0, "ew": 3.0}
DEFAULT_GROWTH_AIM = 2.0


def growth_aim(workload: str) -> float:
    """The aim of `workload` ("lookup userName co" -> the substring aim)."""
    return GROWTH_AIM.get(workload.rsplit(" ", 1)[-1], DEFAULT_GROWTH_AIM)


def scaling_table(rows: list[dict], sizes: list[int]) -> str:
    """p50 per size for the scaled workloads and whether the largest stays within its aim
    (`growth_aim`) of the smallest."""
    header = "| backend | workload | " + " | ".join(f"p50 ms @ {s:,}" for s in sizes) + " | growth | aim | met |"
    lines = [header, "|---|---|" + "---:|" * len(sizes) + "---:|---:|---|"]
    series: dict[tuple[str, str], dict[int, dict]] = {}
    for row in rows:
        if row.get("phase") == "scale":
            series.setdefault((row["backend"], row["workload"]), {})[row["n"]] = row
    for (backend, workload), by_size in series.items():
        cells = []
        for size in sizes:
            row = by_size.get(size)
            cell = _fmt(row["p50_ms"]) if row else "–"
            if row and row["errors"]:
                cell += f" ({row['errors']} err)"
            cells.append(cell)
        present = [by_size[s]["p50_ms"] for s in sizes if s in by_size and by_size[s]["p50_ms"]]
        growth = present[-1] / present[0] if len(present) >= 2 else None
        aim = growth_aim(workload)
        verdict = "–" if growth is None else ("yes" if growth <= aim else "NO")
        lines.append(f"| {backend} | {workload} | " + " | ".join(cells)
                     + f" | {_fmt(growth, '×')} | ≤ {aim:g}× | {verdict} |")
    return "\n".join(lines)


def ceiling_table(ceilings: dict) -> str:
    lines = ["| workers | ceiling req/s (8 clients) | p50 ms | p99 ms | one-client p50 ms | measured (start, end req/s) |",
             "|---:|---:|---:|---:|---:|---|"]
    for workers, c in sorted(ceilings.items()):
        lines.append(f"| {workers} | {c['rps']:,.0f} | {c['p50_ms']} | {c['p99_ms']} | {c['seq_p50_ms']} | "
                     f"{', '.join(f'{x:,.0f}' for x in c['samples'])} |")
    return "\n".join(lines)


def memory_table(memory: list[dict]) -> str:
    lines = ["| backend | workers | users | worker RSS idle MiB | RSS under lookup load MiB | KiB per 1,000 users |",
             "|---|---:|---:|---:|---:|---:|"]
    for m in memory:
        per_k = "–" if m.get("kib_per_1000_users") is None else f"{m['kib_per_1000_users']:,.0f}"
        lines.append(f"| {m['backend']} | {m['workers']} | {m['users']:,} | {m['rss_start_kib'] / 1024:,.1f} | "
                     f"{m['rss_load_kib'] / 1024:,.1f} | {per_k} |")
    return "\n".join(lines)


def render(results: dict) -> str:
    parts = [f"## scimflask benchmark — {results['date']}",
             f"Machine: {results['machine']}. Command: `{results['command']}`.", "",
             "### Ceiling (bare Flask ListResponse, same gunicorn settings)", ceiling_table(results["ceilings"]), "",
             "### Workloads", main_table(results["rows"]), ""]
    if results["scale_sizes"]:
        parts += ["### Scaling (p50 latency as the directory / group grows)",
                  scaling_table(results["rows"], results["scale_sizes"]), ""]
    parts += ["### Memory", memory_table(results["memory"]), ""]
    if results["unavailable"]:
        parts += ["### Unavailable backends"] + [f"- {name}: {reason if reason.startswith('failed') else 'unavailable: ' + reason}"
                                                 for name, reason in results["unavailable"].items()] + [""]
    return "\n".join(parts)
