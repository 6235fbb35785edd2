#!/usr/bin/env python3
"""Markdown table of a bench's JSON lines, one row per recipe and one column per seed (– where a recipe lacks that
seed), then the mean, the mean wall time and, when the lines carry it, collapse_warning. Shared by
bench/teachers-probe.sh and bench/teachers-finetune.sh.

    seed_table.py RESULTS.jsonl KEY LABEL     e.g. results.jsonl accuracy probe
"""
import json, statistics, sys

path, key, label = sys.argv[1:4]
rows = [json.loads(l) for l in open(path) if l.strip()]
seeds = sorted({r["seed"] for r in rows})
collapse = any("collapse_warning" in r for r in rows)
print("\n| recipe | " + " | ".join(f"{label} seed {s}" for s in seeds) + " | mean | wall s (mean) |" + (" collapse_warning |" if collapse else ""))
print("|---|" + "---|" * (len(seeds) + 2 + collapse))
for recipe in dict.fromkeys(r["recipe"] for r in rows):
    rs = [r for r in rows if r["recipe"] == recipe]
    by_seed = {r["seed"]: r[key] for r in rs}
    walls = [r["wall_s"] for r in rs if r.get("wall_s") is not None]
    line = (f"| `{recipe}` | " + " | ".join(f"{by_seed[s]:.4f}" if s in by_seed else "–" for s in seeds)
            + f" | {statistics.mean(by_seed.values()):.4f} | " + (f"{statistics.mean(walls):.0f}" if walls else "–") + " |")
    if collapse: line += (" yes" if any(r.get("collapse_warning") for r in rs) else " no") + " |"
    print(line)
