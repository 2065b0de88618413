"""HF transformers on a Llama-3.2-1B-shaped random model (bf16, eager PyTorch, SDPA attention):
the side-by-side numbers for bin/gpu-check (same shapes and step counts as GpuBench)."""
import os
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM


def timed(fn):
    torch.cuda.synchronize()
    t = time.perf_counter()
    out = fn()
    torch.cuda.synchronize()
    return out, time.perf_counter() - t


def decode(model, batch, prompt=128, steps=256):
    ids = torch.randint(0, model.config.vocab_size, (batch, prompt), device="cuda")
    out = model(input_ids=ids, use_cache=True)
    past = out.past_key_values
    nxt = out.logits[:, -1].argmax(-1, keepdim=True)

    def loop():
        nonlocal past, nxt
        for _ in range(steps):
            o = model(input_ids=nxt, past_key_values=past, use_cache=True)
            past = o.past_key_values
            nxt = o.logits[:, -1].argmax(-1, keepdim=True)

    _, s = timed(loop)
    return batch * steps / s


def static_cache_decode(model, new_tokens=256):
    """Single-stream greedy decode through generate() with a static KV cache: eager, then with
    torch.compile (mode reduce-overhead: CUDA graphs), as HF's docs recommend for speed."""
    out = {}
    ids = torch.randint(0, model.config.vocab_size, (1, 128), device="cuda")
    kw = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
              cache_implementation="static")
    variants = [("static cache decode_1_tok_s", False)]
    if os.environ.get("HF_COMPILE") == "1":  # compiling takes minutes: only when asked
        variants.append(("static cache + torch.compile decode_1_tok_s", True))
    for name, compiled in variants:
        try:
            if compiled:
                model.forward = torch.compile(model.forward, mode="reduce-overhead", fullgraph=True)
            t = time.perf_counter()
            model.generate(ids, **kw)  # warm-up (and compilation)
            warm = time.perf_counter() - t
            _, s = timed(lambda: model.generate(ids, **kw))
            out[name] = f"{new_tokens / s:.1f} (first call {warm:.0f} s)"
        except Exception as e:  # an HF/torch version without it: say so, keep the other rows
            out[name] = f"failed: {type(e).__name__}: {str(e)[:120]}"
    return out


def main():
    cfg = LlamaConfig(
        hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
        num_key_value_heads=8, vocab_size=128256, max_position_embeddings=8192,
        tie_word_embeddings=True, rms_norm_eps=1e-5)
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16).eval()
    print(f"hf: transformers model on {torch.cuda.get_device_name()}, torch {torch.__version__}")
    with torch.inference_mode():
        decode(model, 1, steps=8)
        decode(model, 32, steps=8)
        d1 = decode(model, 1)
        d32 = decode(model, 32)
        ids = torch.randint(0, cfg.vocab_size, (1, 2048), device="cuda")
        times = []
        for r in range(9):
            _, s = timed(lambda: model(input_ids=ids, use_cache=True, logits_to_keep=1))
            if r >= 2:
                times.append(s * 1e3)
        times.sort()
        static = static_cache_decode(model)
    print(f"| HF eager decode_1_tok_s | {d1:.1f} |")
    print(f"| HF eager decode_32_tok_s | {d32:.1f} |")
    print(f"| HF eager prefill_2048_ms | {times[len(times) // 2]:.1f} |")
    for name, value in static.items():
        print(f"| HF {name} | {value} |")


if __name__ == "__main__":
    main()
