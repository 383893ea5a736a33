"""Build the embedded default models: tokenizer, tiny-qwen3 and tiny-qwen3-draft.

    python scripts/build_embedded_models.py [--steps 1200] [--draft-steps 150]

Trains a byte-level BPE tokenizer on the fixture train splits, then two Qwen3-architecture
models on the same text. The outputs are committed under bench_lib/embedded/ because float
training is not bit-reproducible across CPUs, and comparisons across machines need the very
same weights. Rerunning this script on another machine gives a similar model, not the same one.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from bench_lib.tasks.loading import load_examples  # noqa: E402

OUT = ROOT / "bench_lib" / "embedded"
PROMPT_WEIGHT = 0.2
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
# hidden_size 256 so every weight row is a multiple of 256, which GGUF k-quants require.
CONFIGS = {
    "tiny-qwen3": dict(hidden_size=256, intermediate_size=768, num_hidden_layers=4,
                       num_attention_heads=4, num_key_value_heads=2, head_dim=64),
    "tiny-qwen3-draft": dict(hidden_size=256, intermediate_size=512, num_hidden_layers=1,
                             num_attention_heads=4, num_key_value_heads=2, head_dim=64),
}


def conversations() -> list[list[dict]]:
    convs = []
    for task in ("arc", "squad", "openmath"):
        for ex in load_examples(task, "train"):
            convs.append([{"role": "user", "content": ex.prompt}, {"role": "assistant", "content": ex.reference}])
    return convs


def train_tokenizer(texts: list[str], vocab_size: int, out: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # GPT-2's byte-level pre-tokenizer and regex: GGUF declares it as the `gpt-2` pre-tokenizer.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   bos_token=None, unk_token=None, additional_special_tokens=["<|im_start|>"])
    fast.chat_template = CHAT_TEMPLATE
    fast.model_max_length = 1024
    fast.save_pretrained(out)
    return fast


def batches(ids: list[list[int]], prompt_lens: list[int], batch_size: int, pad: int, rng: random.Random):
    order = list(range(len(ids)))
    while True:
        rng.shuffle(order)
        for i in range(0, len(order) - batch_size + 1, batch_size):
            picked = order[i:i + batch_size]
            width = max(len(ids[j]) for j in picked)
            x = torch.full((len(picked), width), pad, dtype=torch.long)
            weight = torch.zeros(len(picked), width)
            for r, j in enumerate(picked):
                x[r, :len(ids[j])] = torch.tensor(ids[j])
                # Prompt tokens are templated and easy; at full weight they drown the answers,
                # which are what the task metrics score. A small weight keeps a language model
                # (perplexity/KLD on prompt text stays meaningful).
                weight[r, :prompt_lens[j]] = PROMPT_WEIGHT
                weight[r, prompt_lens[j]:len(ids[j])] = 1.0
            yield x, weight


def weighted_loss(logits: torch.Tensor, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    nll = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), x[:, 1:].flatten(), reduction="none")
    w = weight[:, 1:].flatten()
    return (nll * w).sum() / w.sum()


def train_model(name: str, tokenizer, token_ids: list[list[int]], prompt_lens: list[int], steps: int, seed: int,
                out: Path) -> dict:
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(seed)
    config = Qwen3Config(vocab_size=len(tokenizer), max_position_embeddings=1024, tie_word_embeddings=True,
                         rope_theta=10000.0, bos_token_id=None, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, **CONFIGS[name])
    model = Qwen3ForCausalLM(config)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01, betas=(0.9, 0.95))
    warmup = max(steps // 20, 1)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0)))))
    data = batches(token_ids, prompt_lens, 16, tokenizer.pad_token_id, random.Random(seed))
    model.train()
    start, losses = time.perf_counter(), []
    for step in range(steps):
        x, weight = next(data)
        loss = weighted_loss(model(input_ids=x, attention_mask=(weight > 0).long()).logits, x, weight)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if step % 100 == 0 or step == steps - 1:
            print(f"{name} step {step:5d} loss {loss.item():.3f} ({time.perf_counter() - start:.0f} s)", flush=True)
    model.eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.do_sample = False
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    n_params = sum(p.numel() for p in model.parameters())
    info = {"name": name, "parameters": n_params, "steps": steps, "batch_size": 16, "seed": seed,
            "prompt_token_weight": PROMPT_WEIGHT,
            "final_loss_mean_last_50": sum(losses[-50:]) / len(losses[-50:]),
            "train_seconds": round(time.perf_counter() - start, 1), "torch": torch.__version__}
    (out / "training_info.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--draft-steps", type=int, default=150)
    parser.add_argument("--vocab-size", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT, help="output folder (default: the committed embedded models)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    convs = conversations()
    tok_dir = args.out / "tiny-qwen3"
    tok_dir.mkdir(parents=True, exist_ok=True)
    from transformers import PreTrainedTokenizerFast

    plain = [m["content"] for conv in convs for m in conv]
    tokenizer = train_tokenizer(plain, args.vocab_size, tok_dir)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(tok_dir)
    ids = [tokenizer.apply_chat_template(conv, tokenize=True, return_dict=False) for conv in convs]
    prompt_lens = [len(tokenizer.apply_chat_template(conv[:1], add_generation_prompt=True, tokenize=True,
                                                     return_dict=False)) for conv in convs]
    print(f"{len(ids)} conversations, {sum(map(len, ids))} tokens, longest {max(map(len, ids))}")
    for name, steps, seed in (("tiny-qwen3", args.steps, 0), ("tiny-qwen3-draft", args.draft_steps, 1)):
        print(json.dumps(train_model(name, tokenizer, ids, prompt_lens, steps, seed, args.out / name)))


if __name__ == "__main__":
    main()
