import json, os, collections, sys
REPOS="CLIP accelerate approachingalmost detectron2 diffusers example-get-started flax lightning-hydra-template litgpt machine-learning-book minGPT nanoGPT notebooks pytorch-examples pytorch-image-models pytorch-lightning trl wandb-examples yolov5".split()
def load(p):
    if not os.path.exists(p): return None
    return json.load(open(p))["findings"]
before={r:load(f"/work/baseline/{r}.json") for r in REPOS}
after={r:load(f"/work/triage/final/after/{r}.json") for r in REPOS}
codes=sorted({f["code"] for d in (before,after) for v in d.values() if v for f in v})
out=["# Per-repo × per-rule counts, before → after (default selection)","",
 "Before = /work/baseline/<repo>.json; after = /work/triage/final/after/<repo>.json (main, this round). Cells: before→after; blank = 0→0.",""]
out.append("| repo | "+" | ".join(codes)+" | total |")
out.append("|---|"+"---|"*(len(codes)+1))
tb=collections.Counter(); ta=collections.Counter()
for r in REPOS:
    b=collections.Counter(f["code"] for f in before[r] or []); a=collections.Counter(f["code"] for f in after[r] or [])
    tb.update(b); ta.update(a)
    cells=[]
    for c in codes:
        cells.append("" if b[c]==a[c]==0 else (f"{b[c]}" if b[c]==a[c] else f"**{b[c]}→{a[c]}**"))
    miss="" if after[r] is not None else " (after missing)"
    out.append(f"| {r}{miss} | "+" | ".join(cells)+f" | {sum(b.values())}→{sum(a.values())} |")
out.append("| **total** | "+" | ".join(f"{tb[c]}→{ta[c]}" for c in codes)+f" | {sum(tb.values())}→{sum(ta.values())} |")
out+=["","## Totals per rule","","| rule | before | after | Δ |","|---|---|---|---|"]
for c in codes: out.append(f"| {c} | {tb[c]} | {ta[c]} | {ta[c]-tb[c]:+d} |")
out.append(f"| all | {sum(tb.values())} | {sum(ta.values())} | {sum(ta.values())-sum(tb.values()):+d} |")
open("counts.md","w").write("\n".join(out)+"\n")
print("\n".join(out[-len(codes)-4:]))
