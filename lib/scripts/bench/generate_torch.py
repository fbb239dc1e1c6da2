"""The transformers side of `npm run bench -- generate` and `npm run bench -- generate-mamba2`
(benchmark only: the course does not depend on PyTorch).

  generate_torch.py make DIR [--model mamba]
      Writes a random MambaForCausalLM with state-spaces/mamba-130m-hf's config (d_model 768,
      24 layers, vocab 50280, N 16, tied head), initialised by transformers, as two checkpoint
      folders: DIR/f32 (F32 safetensors) and DIR/bf16 (the same weights rounded to BF16).
      With --model mamba2: a random Mamba2ForCausalLM with state-spaces/mamba2-130m's sizes
      (d_model 768, 24 layers, vocab 50288, 24 heads of 64, N 128, one group, chunks of 256, tied
      head), DIR/f32 only.
  generate_torch.py time DIR PROMPT_JSON DECODE [--threads 2] [--dtype float32] [--repeats 2]
      Loads DIR with the class its config.json names (AutoModelForCausalLM) in `dtype` (float32
      or bfloat16) on the CPU (transformers' own path: PyTorch code, no CUDA kernels) and times
      reading the prompt (one forward over
      PROMPT_JSON's ids, filling the cache) and greedy decoding DECODE tokens after it
      (model.generate with a logits processor that records when each step's scores arrive:
      DECODE steps between the first and the last).
  generate_torch.py versions
      Prints the versions of Python, torch and transformers.

`time` prints one JSON line: torch and transformers versions, threads, prompt and decode
tokens/s (best of the repeats) and the greedy tokens.
"""

import argparse
import json
import os
import sys
import time

import torch
import transformers
from transformers import (
    AutoModelForCausalLM,
    LogitsProcessor,
    LogitsProcessorList,
    Mamba2Config,
    Mamba2ForCausalLM,
    MambaConfig,
    MambaForCausalLM,
)


def make_mamba2(out):
    torch.manual_seed(0)
    config = Mamba2Config(
        vocab_size=50288,
        hidden_size=768,
        num_hidden_layers=24,
        expand=2,
        head_dim=64,
        num_heads=24,
        n_groups=1,
        state_size=128,
        chunk_size=256,
        conv_kernel=4,
        use_bias=False,
        use_conv_bias=True,
        rms_norm=True,
        residual_in_fp32=True,
        tie_word_embeddings=True,
        pad_token_id=0,
        bos_token_id=0,
        eos_token_id=0,
    )
    Mamba2ForCausalLM(config).eval().save_pretrained(os.path.join(out, "f32"))


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


class StepClock(LogitsProcessor):
    """Records when generate asks for each next token's scores: after the prompt's forward,
    then after each decoding step's."""

    def __init__(self):
        self.times = []

    def __call__(self, input_ids, scores):
        self.times.append(time.perf_counter())
        return scores


def time_model(folder, prompt_json, decode, threads, dtype, repeats):
    torch.set_num_threads(threads)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype)).eval()
    ids = torch.tensor([json.load(open(prompt_json))], dtype=torch.long)
    P = ids.shape[1]

    def generate(n, clock):
        return model.generate(
            ids,
            max_new_tokens=n,
            min_new_tokens=n,
            do_sample=False,
            use_cache=True,
            eos_token_id=None,
            pad_token_id=0,
            logits_processor=LogitsProcessorList([clock]),
        )

    best_prompt = best_decode = 0.0
    with torch.no_grad():
        generate(2, StepClock())  # warm-up
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(ids, use_cache=True)
            best_prompt = max(best_prompt, P / (time.perf_counter() - t0))
            clock = StepClock()
            out = generate(1 + decode, clock)
            # decode steps between the first score (after the prompt) and the last
            best_decode = max(best_decode, decode / (clock.times[-1] - clock.times[0]))
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "threads": torch.get_num_threads(),
                "dtype": dtype,
                "prompt_tokens": P,
                "prompt_tokens_per_s": best_prompt,
                "decode_tokens_per_s": best_decode,
                "tokens": out[0, P:].tolist(),
            }
        )
    )


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("out")
    m.add_argument("--model", choices=["mamba", "mamba2"], default="mamba")
    t = sub.add_parser("time")
    t.add_argument("folder")
    t.add_argument("prompt_json")
    t.add_argument("decode", type=int)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    t.add_argument("--repeats", type=int, default=2)
    sub.add_parser("versions")
    a = p.parse_args()
    if a.cmd == "make":
        (make_mamba2 if a.model == "mamba2" else make)(a.out)
    elif a.cmd == "versions":
        print(
            f"Python {sys.version.split()[0]}, torch {torch.__version__}, "
            f"transformers {transformers.__version__}"
        )
    else:
        time_model(a.folder, a.prompt_json, a.decode, a.threads, a.dtype, a.repeats)


if __name__ == "__main__":
    main()
