"""DVC stage: information planes, accuracy curves and the results table of Sec. 4 (Figs. 2-4).

Reads every seed of every trained model under results/mi/ and writes
reports/figures/mi/*.png, results/mi/curves_{A,AA,AB}.csv (dvc plots) and
results/mi/summary.json (dvc metrics: mean and spread over seeds, and the paper's claims checked).
"""
from __future__ import annotations

import csv
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from pipeline.common import read_json
from pipeline.params import as_dict, load_scale, load_section
from pipeline.summary import publish_summary
from pipeline.tracking import stage_run
from racecar.plots import plot_accuracy_curves, plot_information_plane, save

FIGURES = Path("reports/figures/mi")
RESULTS = Path("results/mi")


def display_name(variant: str, kind: str, layers: int, n_layers: int) -> str:
    if kind == "racecar":
        return f"RR^{layers or n_layers}"
    return {"std": "Std", "orthogonal": "Ort"}.get(kind, variant)


def collect(cfg) -> dict[str, dict]:
    """model label -> {"dir": results folder, "group": A/AA/AB}; Std_B joins the AB group."""
    n = len(cfg.widths) - 1
    models = {}
    for v, p in cfg.variants.items():
        base = display_name(v, p.kind, p.layers, n)
        models[f"{base}_A"] = {"dir": RESULTS / "phase1" / v, "group": "A"}
        models[f"{base}_AA"] = {"dir": RESULTS / "phase2" / f"{v}-AA", "group": "AA"}
        models[f"{base}_AB"] = {"dir": RESULTS / "phase2" / f"{v}-AB", "group": "AB"}
    models["Std_B"] = {"dir": RESULTS / "scratch" / "std", "group": "AB"}
    for label, m in models.items():
        m["histories"] = [read_json(m["dir"] / f"seed{s}" / "history.json") for s in cfg.seeds]
        m["mi"] = read_json(m["dir"] / f"seed{cfg.seeds[0]}" / "mi.json")
        finals = np.array([h[-1]["test_acc"] for h in m["histories"]])
        last_mi = [read_json(m["dir"] / f"seed{s}" / "mi.json")[-1] for s in cfg.seeds]
        m["summary"] = {"test_acc_mean": float(finals.mean()), "test_acc_std": float(finals.std()),
                        "n_seeds": len(finals), "per_seed": finals.tolist(),
                        "final_ixt_last_layer": float(np.mean([r["ixt"][-1] for r in last_mi])),
                        "final_ity_last_layer": float(np.mean([r["ity"][-1] for r in last_mi]))}
    return models


def curve(histories: list[list[dict]]):
    epochs = np.array([h["epoch"] for h in histories[0]])
    acc = np.array([[h["test_acc"] for h in hist] for hist in histories])   # (seeds, epochs)
    return epochs, acc.mean(0), acc.std(0)


def claims(models: dict) -> list[dict]:
    """The paper's qualitative statements of Sec. 4, checked on the means over seeds."""
    acc = {k: m["summary"]["test_acc_mean"] for k, m in models.items()}
    ixt = {k: m["summary"]["final_ixt_last_layer"] for k, m in models.items()}
    out = []

    def check(text, holds, detail):
        out.append({"claim": text, "holds": bool(holds), "ours": detail})
    check("Std_AB yields a very low accuracy (fails on the inverted labels): more than 0.1 "
          "below Std_B and RR^6_AB", acc["Std_AB"] < min(acc["Std_B"], acc["RR^6_AB"]) - 0.1,
          f"Std_AB {acc['Std_AB']:.4f}, Std_B {acc['Std_B']:.4f}, RR^6_AB {acc['RR^6_AB']:.4f}")
    check("RR^6_AB outperforms Std_B", acc["RR^6_AB"] > acc["Std_B"],
          f"{acc['RR^6_AB']:.4f} vs {acc['Std_B']:.4f}")
    check("Ort_AB performs worse than Std_B", acc["Ort_AB"] < acc["Std_B"],
          f"{acc['Ort_AB']:.4f} vs {acc['Std_B']:.4f}")
    best_aa = max((k for k in acc if k.endswith("_AA")), key=acc.get)
    check("RR^6_AA slightly outperforms the other AA models", best_aa == "RR^6_AA",
          ", ".join(f"{k} {acc[k]:.4f}" for k in acc if k.endswith("_AA")))
    check("RR^6_A keeps more input information in its last layer than Std_A and Ort_A "
          "(final I(X;T_6))", ixt["RR^6_A"] > max(ixt["Std_A"], ixt["Ort_A"]),
          f"RR^6_A {ixt['RR^6_A']:.2f}, Std_A {ixt['Std_A']:.2f}, Ort_A {ixt['Ort_A']:.2f} bits")
    check("final I(X;L_6) of RR^6_AA is higher than Std_AA, Ort_AA and RR^1_AA",
          ixt["RR^6_AA"] > max(ixt["Std_AA"], ixt["Ort_AA"], ixt["RR^1_AA"]),
          f"RR^6_AA {ixt['RR^6_AA']:.2f}, Std_AA {ixt['Std_AA']:.2f}, Ort_AA {ixt['Ort_AA']:.2f}, "
          f"RR^1_AA {ixt['RR^1_AA']:.2f} bits")
    return out


def main() -> None:
    cfg = load_section("mi")
    models = collect(cfg)
    FIGURES.mkdir(parents=True, exist_ok=True)
    with stage_run("mi", tags={"phase": "evaluate", "scale": load_scale()},
                   params={"mi": as_dict(cfg)}) as run:
        for group in ("A", "AA", "AB"):
            members = {k: m for k, m in models.items() if m["group"] == group}
            fig, axes = plt.subplots(1, len(members), figsize=(3.3 * len(members) + 1, 3.2),
                                     squeeze=False, layout="constrained")
            for ax, (label, m) in zip(axes[0], members.items()):
                mappable = plot_information_plane(
                    ax, m["mi"], f"{label} (seed {cfg.seeds[0]}), acc "
                                 f"{m['summary']['test_acc_mean']:.3f}")
            fig.colorbar(mappable, ax=axes[0].tolist(), label="epoch", shrink=0.8)
            fig.savefig(FIGURES / f"mi_planes_{group}.png", dpi=110)
            plt.close(fig)
            curves = {k: curve(m["histories"]) for k, m in members.items()}
            fig, ax = plt.subplots(figsize=(5, 3.4))
            plot_accuracy_curves(ax, curves)
            ax.set_title(f"task {group}: test accuracy, mean +- std over {len(cfg.seeds)} seeds",
                         fontsize=9)
            save(fig, FIGURES / f"mi_accuracy_{group}.png")
            with open(RESULTS / f"curves_{group}.csv", "w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(["epoch", *curves])
                epochs = next(iter(curves.values()))[0]
                for i, e in enumerate(epochs):
                    writer.writerow([int(e), *(f"{c[1][i]:.5f}" if i < len(c[1]) else ""
                                               for c in curves.values())])
        summary = {"scale": load_scale(), "epochs": {"phase1": cfg.phase1.epochs,
                   "phase2": cfg.phase2.epochs, "scratch": cfg.scratch.epochs},
                   "seeds": list(cfg.seeds),
                   "models": {k: m["summary"] for k, m in models.items()},
                   "claims": claims(models)}
        publish_summary(run, summary, RESULTS / "summary.json", FIGURES, "mi")


if __name__ == "__main__":
    main()
