"""HF transformers on the same GGUF weights as Baton's CUDA backend (issue 17's correctness row).

GpuCheck writes, under DIR (default /tmp/gpu-check-work/hf): model.gguf (the small llama3-rope random
model, F32 tensors), tokens.i32 (1,024 random token ids) and logits-<PRECISION>.f32 (Baton's GPU
logits at every position, teacher-forced). This script reads the GGUF file itself (no gguf package
needed), builds a LlamaForCausalLM with the same weights, runs the tokens in one forward pass and
prints, per Baton precision, the top-1 agreement and the largest logit difference; and for scale the
same numbers for HF in fp16 against HF in fp32.

GGUF stores llama's Q and K projections permuted for llama.cpp's interleaved RoPE (pairs 2i, 2i+1);
HF rotates halves (i, i + head_dim/2). Undoing that permutation is the only change to the weights.
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np
import torch
from transformers import LlamaConfig, LlamaForCausalLM

SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
          11: "<q", 12: "<d"}
F32, F16 = 0, 1


class Reader:
    def __init__(self, data):
        self.data = data
        self.at = 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.data, self.at)[0]
        self.at += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take("<Q")
        s = self.data[self.at:self.at + n].decode("utf-8")
        self.at += n
        return s

    def value(self, kind):
        if kind == 8:
            return self.string()
        if kind == 9:
            inner = self.take("<I")
            return [self.value(inner) for _ in range(self.take("<Q"))]
        return self.take(SCALAR[kind])


def read_gguf(path):
    data = Path(path).read_bytes()
    r = Reader(data)
    if data[:4] != b"GGUF":
        raise SystemExit(f"{path}: not a GGUF file")
    r.at = 4
    r.take("<I")  # version
    tensors, kvs = r.take("<Q"), r.take("<Q")
    meta = {}
    for _ in range(kvs):
        key = r.string()
        meta[key] = r.value(r.take("<I"))
    infos = []
    for _ in range(tensors):
        name = r.string()
        dims = [r.take("<Q") for _ in range(r.take("<I"))]
        infos.append((name, dims, r.take("<I"), r.take("<Q")))
    align = meta.get("general.alignment", 32)
    base = (r.at + align - 1) // align * align
    out = {}
    for name, dims, kind, offset in infos:
        count = int(np.prod(dims))
        dtype = {F32: np.float32, F16: np.float16}.get(kind)
        if dtype is None:
            raise SystemExit(f"{name}: tensor type {kind} not handled (the check model is F32)")
        a = np.frombuffer(data, dtype=dtype, count=count, offset=base + offset)
        out[name] = a.reshape(list(reversed(dims))).astype(np.float32)  # ne[0] is the fastest
    return meta, out


def unpermute(w, heads):
    """GGUF row order per head is (pair i, member s); HF's is (member s, pair i)."""
    rows, cols = w.shape
    return w.reshape(heads, rows // heads // 2, 2, cols).swapaxes(1, 2).reshape(rows, cols)


def hf_model(meta, t):
    a = meta["general.architecture"]
    heads, kv = meta[f"{a}.attention.head_count"], meta[f"{a}.attention.head_count_kv"]
    dim = meta[f"{a}.embedding_length"]
    cfg = dict(hidden_size=dim, intermediate_size=meta[f"{a}.feed_forward_length"],
               num_hidden_layers=meta[f"{a}.block_count"], num_attention_heads=heads,
               num_key_value_heads=kv, vocab_size=t["token_embd.weight"].shape[0],
               # >= llama3's original context (transformers 5 refuses a smaller one).
               max_position_embeddings=max(meta[f"{a}.context_length"], 8192),
               rms_norm_eps=meta[f"{a}.attention.layer_norm_rms_epsilon"],
               rope_theta=meta[f"{a}.rope.freq_base"],
               tie_word_embeddings="output.weight" not in t, attention_bias=False)
    if "rope_freqs.weight" in t:
        # RandomModel writes Llama 3.1/3.2 factors (factor 32, low 1, high 4, original 8192);
        # checked below against the file's own factors.
        cfg["rope_scaling"] = {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                               "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
    config = LlamaConfig(**cfg)
    config._attn_implementation = "eager"
    model = LlamaForCausalLM(config)
    sd = {"model.embed_tokens.weight": t["token_embd.weight"], "model.norm.weight": t["output_norm.weight"]}
    if "output.weight" in t:
        sd["lm_head.weight"] = t["output.weight"]
    for i in range(config.num_hidden_layers):
        b, h = f"blk.{i}.", f"model.layers.{i}."
        sd[h + "input_layernorm.weight"] = t[b + "attn_norm.weight"]
        sd[h + "self_attn.q_proj.weight"] = unpermute(t[b + "attn_q.weight"], heads)
        sd[h + "self_attn.k_proj.weight"] = unpermute(t[b + "attn_k.weight"], kv)
        sd[h + "self_attn.v_proj.weight"] = t[b + "attn_v.weight"]
        sd[h + "self_attn.o_proj.weight"] = t[b + "attn_output.weight"]
        sd[h + "post_attention_layernorm.weight"] = t[b + "ffn_norm.weight"]
        sd[h + "mlp.gate_proj.weight"] = t[b + "ffn_gate.weight"]
        sd[h + "mlp.up_proj.weight"] = t[b + "ffn_up.weight"]
        sd[h + "mlp.down_proj.weight"] = t[b + "ffn_down.weight"]
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v))
                                                 for k, v in sd.items()}, strict=False)
    missing = [m for m in missing if m != "lm_head.weight" and "rotary_emb" not in m]
    if missing or unexpected:
        raise SystemExit(f"weights: missing {missing}, unexpected {unexpected}")
    if config.tie_word_embeddings:
        model.tie_weights()
    if "rope_freqs.weight" in t:
        hd = dim // heads
        plain = 1.0 / (meta[f"{a}.rope.freq_base"] ** (np.arange(0, hd, 2) / hd))
        ours = plain / t["rope_freqs.weight"]
        try:
            hf = model.model.rotary_emb.inv_freq.double().numpy()
            print(f"hf: llama3 RoPE inverse frequencies, max relative difference to the GGUF "
                  f"factors {np.max(np.abs(hf - ours) / ours):.2e}")
        except AttributeError as e:
            print(f"hf: RoPE frequencies not compared ({e})")
    return model.eval()


def compare(a, b):
    top1 = (a.argmax(-1) == b.argmax(-1)).float().mean().item()
    return top1, (a - b).abs().max().item(), a.abs().max().item()


def main():
    d = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/gpu-check-work/hf")
    meta, t = read_gguf(d / "model.gguf")
    tokens = np.fromfile(d / "tokens.i32", dtype="<i4")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    model = hf_model(meta, t).to("cuda")
    ids = torch.from_numpy(tokens.astype(np.int64)).unsqueeze(0).to("cuda")
    with torch.inference_mode():
        ref = model(input_ids=ids).logits[0].float()
        half = model.half()(input_ids=ids).logits[0].float()
    n, vocab = ref.shape
    rows = []
    for f in sorted(d.glob("logits-*.f32")):
        precision = f.stem.split("-", 1)[1]
        ours = torch.from_numpy(np.fromfile(f, dtype="<f4").reshape(n, vocab)).to("cuda")
        top1, diff, scale = compare(ref, ours)
        gate = precision.lower() in ("fp32", "f16")
        rows.append((f"Baton cuda {precision.lower()} vs HF transformers fp32 (same GGUF weights), "
                     f"teacher-forced top-1 over {n}", top1, diff, scale, gate))
    top1, diff, scale = compare(ref, half)
    rows.append((f"HF transformers fp16 vs HF fp32 (for scale), top-1 over {n}", top1, diff, scale,
                 False))
    for what, top1, diff, scale, gate in rows:
        ok = "yes" if top1 >= 0.99 else "NO"
        print(f"| {what} | {100 * top1:.2f}%; max|dlogit| {diff:.2e} (max|logit| {scale:.2f}) "
              f"| {'>= 99%' if gate else '-'} | {ok if gate else ''} |")
    print(json.dumps({"positions": n, "vocab": vocab}))


if __name__ == "__main__":
    main()
