"""The transformers side of `npm run bench -- generate` (benchmark only: the course does not
depend on PyTorch).

  generate_torch.py make DIR
      Writes a random MambaForCausalLM with state-spaces/mamba-130m-hf's config (d_model 768,
      24 layers, vocab 50280, N 16, tied head), initialised by transformers, as two checkpoint
      folders: DIR/f32 (F32 safetensors) and DIR/bf16 (the same weights rounded to BF16).
  generate_torch.py time DIR PROMPT_JSON DECODE [--threads 2] [--repeats 2]
      Loads DIR with MambaForCausalLM in float32 on the CPU (transformers' own path: PyTorch
      code, no CUDA kernels) and times reading the prompt (one forward over PROMPT_JSON's ids,
      filling the cache) and greedy decoding DECODE tokens after it (model.generate, whose
      per-token time is the time of prompt + DECODE tokens minus the time of prompt + 1 token).

`time` prints one JSON line: torch and transformers versions, threads, prompt and decode
tokens/s (best of the repeats) and the greedy tokens.
"""

import argparse
import json
import os
import time

import torch
import transformers
from transformers import MambaConfig, MambaForCausalLM


def make(out):
    torch.manual_seed(0)
    config = MambaConfig(
        vocab_size=50280,
        hidden_size=768,
        state_size=16,
        num_hidden_layers=24,
        expand=2,
        conv_kernel=4,
        use_bias=False,
        use_conv_bias=True,
        tie_word_embeddings=True,
        pad_token_id=0,
        bos_token_id=0,
        eos_token_id=0,
    )
    model = MambaForCausalLM(config).eval()
    model.save_pretrained(os.path.join(out, "f32"))
    model.to(torch.bfloat16).save_pretrained(os.path.join(out, "bf16"))


def timed(fn, repeats):
    best = float("inf")
    result = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def time_model(folder, prompt_json, decode, threads, repeats):
    torch.set_num_threads(threads)
    model = MambaForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    ids = torch.tensor([json.load(open(prompt_json))], dtype=torch.long)
    P = ids.shape[1]

    def generate(n):
        return model.generate(
            ids,
            max_new_tokens=n,
            min_new_tokens=n,
            do_sample=False,
            use_cache=True,
            eos_token_id=None,
            pad_token_id=0,
        )

    with torch.no_grad():
        generate(2)  # warm-up
        prompt_s, _ = timed(lambda: model(ids, use_cache=True), repeats)
        one_s, _ = timed(lambda: generate(1), repeats)
        all_s, out = timed(lambda: generate(1 + decode), repeats)
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "threads": torch.get_num_threads(),
                "prompt_tokens": P,
                "prompt_tokens_per_s": P / prompt_s,
                "decode_tokens_per_s": decode / max(all_s - one_s, 1e-9),
                "tokens": out[0, P:].tolist(),
            }
        )
    )


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("out")
    t = sub.add_parser("time")
    t.add_argument("folder")
    t.add_argument("prompt_json")
    t.add_argument("decode", type=int)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--repeats", type=int, default=2)
    a = p.parse_args()
    if a.cmd == "make":
        make(a.out)
    else:
        time_model(a.folder, a.prompt_json, a.decode, a.threads, a.repeats)


if __name__ == "__main__":
    main()
