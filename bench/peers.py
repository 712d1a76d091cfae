#!/usr/bin/env python3
"""Peer baselines for the PIT Studio bench, on the same GPU in the same command (issue 5 §1, issue 11).

cuBLAS SGEMM (torch fp32 matmul with TF32 off) and HGEMM (torch fp16 matmul, PyTorch's defaults: fp16 in and out,
fp32 accumulation with reduced-precision reductions allowed), cuSPARSE CSR SpMM (torch.sparse CSR @ dense), PyTorch's
BSR (`to_sparse_bsr` @ dense), in fp32 and fp16, and the dense->CSR / dense->BSR conversion costs (fp32) for the
detection comparison. Every figure carries its "dtype" ("f32" or "f16"). For the static weight patterns (issue 12,
the suite's section e): C = A.W with a sparse weight W, computed as (W^T_sparse @ A^T)^T since torch wants the
sparse operand first: BSR (fp32, 32x32 blocks, W block-sparse at 50 / 75 / 87.5 / 93.75 %) against cuBLAS fp32, and
semi-structured 2:4 (`to_sparse_semi_structured`, fp16, cuSPARSELt/CUTLASS) against cuBLAS fp16 on the same shape.
Timing: CUDA events around each call, warm-up first, median/min/max over `repeat` calls (ms). The model layers are
small (many run in 10-50 us, less than a launch from Python), so a sample there is a CUDA graph replaying `graphCalls`
back-to-back calls, divided by that count ("timing": "cuda-graph"): the GPU time of the kernel, as our timestamp
queries measure ours, not the launch latency of one call. Writes one JSON
object to --out (or stdout) that the node side (bench/index.ts --peers) merges.

Operands follow the node side's distributions (not its bytes): A [M,K] with non-zero micro-tiles of the given shape
placed at random (exactly round((1-s)*tiles) of them), values uniform in [-1,1); B [K,N] uniform in [-1,1).
Every sparse result is checked against torch's fp64 matmul on sampled rows.
"""
import argparse
import json
import math
import subprocess
import sys
import time

import torch

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False


def timed(fn, warmup, repeat):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    samples = []
    for _ in range(repeat):
        s = torch.cuda.Event(enable_timing=True)
        e = torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        torch.cuda.synchronize()
        samples.append(s.elapsed_time(e))
    samples.sort()
    n = len(samples)
    med = samples[n // 2] if n % 2 else 0.5 * (samples[n // 2 - 1] + samples[n // 2])
    return {"medianMs": med, "minMs": samples[0], "maxMs": samples[-1], "repeat": n, "samplesMs": samples}


def timed_graph(fn, warmup, repeat, target_ms=2.0, max_calls=256):
    """Like `timed`, each sample a CUDA graph of n back-to-back calls (n sized so a replay spans ~target_ms) / n.

    `fn` must write a preallocated output (no allocation inside the capture). Falls back to `timed` where capture
    fails, saying so in "timing"."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    one = timed(fn, 0, 5)["medianMs"]
    calls = max(1, min(max_calls, math.ceil(target_ms / max(one, 1e-3))))
    try:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            fn()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for _ in range(calls):
                fn()
        graph.replay()
        torch.cuda.synchronize()
    except Exception as exc:  # noqa: BLE001 - any capture failure falls back to plain events
        t = timed(fn, 0, repeat)
        return {**t, "timing": f"cuda-events (graph capture failed: {str(exc).splitlines()[0]})"}
    t = timed(graph.replay, 1, repeat)
    scale = 1.0 / calls
    return {"medianMs": t["medianMs"] * scale, "minMs": t["minMs"] * scale, "maxMs": t["maxMs"] * scale, "repeat": t["repeat"],
            "samplesMs": [x * scale for x in t["samplesMs"]], "timing": "cuda-graph", "graphCalls": calls}


def spin(ms):
    """Back-to-back 4096^3 matmuls for ~ms, so the clocks are up before small layers are timed."""
    a = torch.rand(4096, 4096, device="cuda")
    end = time.time() + ms / 1000
    while time.time() < end:
        for _ in range(8):
            a @ a
        torch.cuda.synchronize()


def block_sparse(m, k, bh, bw, sparsity, gen):
    gr, gc = math.ceil(m / bh), math.ceil(k / bw)
    tiles = gr * gc
    keep = int(round((1.0 - sparsity) * tiles))
    mask = torch.zeros(tiles, dtype=torch.bool, device="cuda")
    if keep > 0:
        mask[torch.randperm(tiles, device="cuda", generator=gen)[:keep]] = True
    mask = mask.view(gr, gc).repeat_interleave(bh, 0).repeat_interleave(bw, 1)[:m, :k]
    vals = torch.rand(m, k, device="cuda", generator=gen) * 2 - 1
    vals[vals == 0] = 0.5
    return vals * mask, keep / tiles


def check(out, a, b, rows=8):
    """fp32: the bench's bound 16·2^-24·sqrt(K)·Σ|a||b|. fp16 (C rounded to f16, reductions possibly in f16): the
    looser 2^-10·Σ|a||b| — a sanity check of the peer, not our verification."""
    idx = torch.randint(0, a.shape[0], (rows,), device="cuda")
    ref = a[idx].double() @ b.double()
    err = (out[idx].double() - ref).abs().max().item()
    scale = a[idx].double().abs().sum(1).max().item() * b.double().abs().max().item()
    if a.dtype == torch.float16:
        tol = 2.0**-10 * scale + 1e-30
    else:
        tol = 16 * 2.0**-24 * math.sqrt(a.shape[1]) * scale + 1e-30
    return {"maxAbsErr": err, "tolerance": tol, "ok": bool(err <= tol)}


def try_call(fn):
    try:
        return fn(), None
    except Exception as exc:  # noqa: BLE001 - record why a peer cannot run, keep going
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"


def static_peers(size, warm, rep, gen):
    """The weight-sparse peers of the suite's section (e); every figure's error is kept instead of stopping."""
    out = {"size": size, "bsr": []}
    m = n = k = size
    a = torch.rand(m, k, device="cuda", generator=gen) * 2 - 1
    at = a.t().contiguous()
    w = torch.rand(k, n, device="cuda", generator=gen) * 2 - 1
    wt = w.t().contiguous()

    def dense(dtype):
        x, y = wt.to(dtype), at.to(dtype)
        t = timed(lambda: x @ y, warm, rep)
        t.pop("samplesMs")
        return t

    out["cublasFp32"], err = try_call(lambda: dense(torch.float32))
    if err:
        out["cublasFp32"] = {"error": err}
    out["cublasFp16"], err = try_call(lambda: dense(torch.float16))
    if err:
        out["cublasFp16"] = {"error": err}
    for sp in [0.5, 0.75, 0.875, 0.9375]:
        # W^T [N, K] with 32x32 blocks kept at random (exactly round((1-sp)*blocks)), as the suite's bw pattern.
        sw, _ = block_sparse(n, k, 32, 32, sp, gen)
        fig = {"sparsity": sp, "blocksize": [32, 32]}
        bsr, err = try_call(lambda: sw.to_sparse_bsr((32, 32)))
        if err is None:
            res, err = try_call(lambda: bsr @ at)
        if err is None:
            t = timed(lambda: bsr @ at, warm, rep)
            t.pop("samplesMs")
            fig.update(t)
            fig["check"] = check(res.t().contiguous(), a, sw.t().contiguous())
        else:
            fig["error"] = err
        out["bsr"].append(fig)
        print(f"peers: static bsr s={sp} {fig.get('medianMs', float('nan')):.3f} ms", file=sys.stderr)
    # Semi-structured 2:4 along K (per row of W^T: 2 of every 4 consecutive k), fp16.
    ss = {"sparsity": 0.5}
    try:
        mask = torch.zeros(n, k, dtype=torch.bool, device="cuda")
        keep = torch.rand(n, k // 4, 4, device="cuda", generator=gen).argsort(dim=2)[:, :, :2]
        mask.view(n, k // 4, 4).scatter_(2, keep, True)
        w24 = (wt * mask).half()
        from torch.sparse import to_sparse_semi_structured
        sst = to_sparse_semi_structured(w24)
        ss["backend"] = type(sst).__name__  # SparseSemiStructuredTensorCUSPARSELT or ...CUTLASS
        ah = at.half()
        res = torch.mm(sst, ah)
        t = timed(lambda: torch.mm(sst, ah), warm, rep)
        t.pop("samplesMs")
        ss.update(t)
        ref = w24.double() @ ah.double()
        err = (res.double() - ref).abs().max().item()
        scale = w24.abs().double().sum(1).max().item() * ah.abs().max().item()
        tol = 16 * 2.0**-11 * math.sqrt(k) * scale
        ss["check"] = {"maxAbsErr": err, "tolerance": tol, "ok": bool(err <= tol)}
    except Exception as exc:  # noqa: BLE001 - record why the peer cannot run
        ss = {"sparsity": 0.5, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"}
    out["semiStructured"] = ss
    print(f"peers: static 2:4 fp16 {ss.get('medianMs', float('nan')):.3f} ms", file=sys.stderr)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="-")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    ap.add_argument("--layers", default="bench/data/ocr-det-layers.json")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--dtypes", default="f32,f16", help="comma-separated: f32, f16")
    ap.add_argument("--only", default="", help="comma-separated sections: dense,sparse,conversion,layers,static (default all)")
    args = ap.parse_args()
    dtypes = [d for d in args.dtypes.split(",") if d]
    only = set(s for s in args.only.split(",") if s)
    TORCH = {"f32": torch.float32, "f16": torch.float16}

    def on(section):
        return not only or section in only
    t0 = time.time()
    gen = torch.Generator(device="cuda")
    gen.manual_seed(1234)
    rep, warm = args.repeat, 3
    dense_sizes = [128, 256] if args.quick else [1024, 2048, 4096, 8192]
    sp_size = 256 if args.quick else 4096
    sparsities = [0.0, 0.5, 0.9, 0.95, 0.99]
    grans = ["32x1", "1x64", "32x64", "1x1"]
    try:
        driver = subprocess.run(["nvidia-smi", "--query-gpu=driver_version,name,clocks.sm,clocks.max.sm", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception as exc:  # noqa: BLE001
        driver = f"nvidia-smi failed: {exc}"
    res = {
        "meta": {"torch": torch.__version__, "cuda": torch.version.cuda, "device": torch.cuda.get_device_name(0),
                 "nvidiaSmi": driver, "allowTf32": torch.backends.cuda.matmul.allow_tf32,
                 "allowFp16ReducedPrecisionReduction": torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction,
                 "dtypes": dtypes,
                 "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        "dense": [], "sparse": [], "conversion": [], "layers": [],
    }

    def dense_fig(m, n, k, dt="f32", graph=False):
        a = (torch.rand(m, k, device="cuda", generator=gen) * 2 - 1).to(TORCH[dt])
        b = (torch.rand(k, n, device="cuda", generator=gen) * 2 - 1).to(TORCH[dt])
        out = a @ b
        if graph:
            c = torch.empty_like(out)
            t = timed_graph(lambda: torch.matmul(a, b, out=c), warm, rep)
        else:
            t = timed(lambda: a @ b, warm, rep)
        t.pop("samplesMs")
        return {"dtype": dt, "m": m, "n": n, "k": k, **t, "tflops": 2 * m * n * k / t["medianMs"] / 1e9, "check": check(out, a, b)}

    for dt in dtypes if on("dense") else []:
        for s in dense_sizes:
            res["dense"].append(dense_fig(s, s, s, dt))
            print(f"peers: cuBLAS {dt} {s}^3 {res['dense'][-1]['medianMs']:.3f} ms", file=sys.stderr)

    # Sparse matmul (PIT Figure 15 style): cuSPARSE CSR and torch BSR at each granularity and sparsity.
    m = n = k = sp_size
    b32 = torch.rand(k, n, device="cuda", generator=gen) * 2 - 1
    for dt, g in [(dt, g) for dt in (dtypes if on("sparse") else []) for g in grans]:
        b = b32.to(TORCH[dt])
        bh, bw = (int(x) for x in g.split("x"))
        for sp in sparsities:
            a, density = block_sparse(m, k, bh, bw, sp, gen)
            a = a.to(TORCH[dt])
            fig = {"dtype": dt, "granularity": g, "sparsity": sp, "microTileDensity": density, "m": m, "n": n, "k": k}
            td = timed(lambda: a @ b, warm, rep)
            td.pop("samplesMs")
            fig["cublas"] = td
            csr = a.to_sparse_csr()
            out, err = try_call(lambda: csr @ b)
            if err is None:
                tc = timed(lambda: csr @ b, warm, rep)
                tc.pop("samplesMs")
                fig["cusparseCsr"] = {**tc, "check": check(out, a, b), "nnz": int(csr.values().numel())}
            else:
                fig["cusparseCsr"] = {"error": err}
            # BSR: the granularity's own block when torch accepts it, else square blocks that tile it.
            tried = []
            for blk in [(bh, bw), (32, 32), (16, 16)]:
                if m % blk[0] or k % blk[1]:
                    continue
                bsr, err = try_call(lambda: a.to_sparse_bsr(blk))
                if err is None:
                    out, err = try_call(lambda: bsr @ b)
                if err is None:
                    tb = timed(lambda: bsr @ b, warm, rep)
                    tb.pop("samplesMs")
                    fig["torchBsr"] = {**tb, "blocksize": list(blk), "check": check(out, a, b), "tried": tried}
                    break
                tried.append({"blocksize": list(blk), "error": err})
            else:
                fig["torchBsr"] = {"error": "no block size ran", "tried": tried}
            res["sparse"].append(fig)
            del a, csr
            print(f"peers: {dt} {g} s={sp} cublas {td['medianMs']:.3f} csr {fig['cusparseCsr'].get('medianMs', float('nan')):.3f} "
                  f"bsr {fig['torchBsr'].get('medianMs', float('nan')):.3f}", file=sys.stderr)

    # Conversion costs (the peers' "detection"): dense -> CSR and dense -> BSR of the same kind of masks (fp32).
    for g in ["1x1", "32x1", "1x64", "32x32"] if on("conversion") else []:
        bh, bw = (int(x) for x in g.split("x"))
        for sp in [0.5, 0.9, 0.95, 0.99]:
            a, density = block_sparse(m, k, bh, bw, sp, gen)
            fig = {"microTile": g, "sparsity": sp, "microTileDensity": density, "rows": m, "cols": k}
            tc = timed(lambda: a.to_sparse_csr(), warm, rep)
            tc.pop("samplesMs")
            fig["toCsr"] = tc
            blk = (bh, bw)
            _, err = try_call(lambda: a.to_sparse_bsr(blk))
            if err is None:
                tb = timed(lambda: a.to_sparse_bsr(blk), warm, rep)
                tb.pop("samplesMs")
                fig["toBsr"] = {**tb, "blocksize": list(blk)}
            else:
                fig["toBsr"] = {"error": err, "blocksize": list(blk)}
            res["conversion"].append(fig)
            del a

    # cuBLAS at the demo model's layer shapes, per dtype.
    if not args.quick and on("layers"):
        try:
            with open(args.layers) as f:
                layers = json.load(f)["layers"]
            spin(300)
            for dt in dtypes:
                seen = set()
                for L in layers:
                    key = (L["m"], L["n"], L["k"])
                    if key in seen:
                        continue
                    seen.add(key)
                    res["layers"].append(dense_fig(*key, dt, graph=True))
        except FileNotFoundError as exc:
            res["layersError"] = str(exc)
    # Weight-sparse peers of the static weight patterns (the suite's section e), at its size.
    if on("static"):
        res["static"] = static_peers(256 if args.quick else 4096, warm, rep, gen)
    res["meta"]["wallS"] = time.time() - t0
    text = json.dumps(res)
    if args.out == "-":
        print(text)
    else:
        with open(args.out, "w") as f:
            f.write(text)
    print(f"peers: done in {res['meta']['wallS']:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
