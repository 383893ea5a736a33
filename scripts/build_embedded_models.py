"""Build the embedded default models: tokenizer, tiny-qwen3 and tiny-qwen3-draft.

    python scripts/build_embedded_models.py [--steps 6000] [--draft-steps 1500] [--batch-size 32]

The training corpus is drawn at build time from the seeded fixture generators
(`bench_lib/tasks/fixtures.py`): every step takes a fresh batch of conversations, so a build of
6000 steps of 32 sees about 190k conversations and repeats almost none. No test-split question
enters the corpus or the tokenizer's training text (the test keys are excluded), so the task
scores measure a learned skill, not recall of the test rows. Only the 1000/200 fixture splits
are committed as data.

The outputs are committed under bench_lib/embedded/ because float training is not
bit-reproducible across CPUs, and comparisons across machines need the very same weights.
Rerunning this script on another machine gives a similar model, not the same one; the recipe,
its wall time and the greedy test-split scores it printed are written to training_info.json.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from bench_lib.tasks import get_task, task_names  # noqa: E402
from bench_lib.tasks.fixtures import GENERATORS, _key, generate_rows  # noqa: E402
from bench_lib.tasks.loading import load_examples  # noqa: E402

OUT = ROOT / "bench_lib" / "embedded"
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
# Share of each task in the corpus, and the share of generated unanswerable SQuAD rows kept.
# The generator makes a third of its rows unanswerable; at that share a small model learns
# "unanswerable" first and the recall skill late, so the corpus keeps fewer of them.
TASK_WEIGHTS = {"arc": 0.4, "squad": 0.35, "openmath": 0.25}
KEEP_UNANSWERABLE = 0.5


class Corpus:
    """An endless stream of fresh conversations from the fixture generators, test rows excluded.

    arc_target "letter" replaces ARC's reference by "The answer is X." (the target of the first
    phase of the committed build, see training_info.json); "task" keeps the task module's own."""

    def __init__(self, seed: int, weights: dict[str, float] = TASK_WEIGHTS, keep_noans: float = KEEP_UNANSWERABLE,
                 arc_target: str = "task", also_exclude: dict[str, set] | None = None, drill_share: float = 0.0,
                 drill_share_end: float | None = None, noans_share: float | None = None):
        self.arc_target = arc_target
        self.noans_share = noans_share
        self.rng = random.Random(f"corpus-{seed}")
        self.tasks = sorted(weights)
        self.weights = [weights[t] for t in self.tasks]
        self.keep_noans = keep_noans
        self.excluded = {t: {_key(r) for r in generate_rows(t, "test")} | (also_exclude or {}).get(t, set())
                         for t in self.tasks}
        self.drawn = 0
        self.rejected_test = 0
        self.drill_share = drill_share
        self.drill_share_end = drill_share if drill_share_end is None else drill_share_end
        self.drills = 0

    def drill(self) -> list[dict]:
        """A label look-up drill in ARC's own format (not a task row, never scored): a fresh ARC
        choice list and the question "Which letter is <text>?", answered as ARC's target answers
        (" plum (B). The answer is (B)."). The question names the text, so the only skill asked is
        the look-up of its label, which every ARC answer needs after it has chosen a text; one
        label token per ARC question is too sparse a signal for a small model to learn it from."""
        self.drills += 1
        row = GENERATORS["arc"](self.rng, self.drills, "drill")
        while _key(row) in self.excluded.get("arc", ()):  # not even a test row's choice list
            row = GENERATORS["arc"](self.rng, self.drills, "drill")
        labels, texts = row["choices"]["label"], row["choices"]["text"]
        pick = self.rng.randrange(len(labels))
        drill_row = dict(row, question=f"Which letter is {texts[pick]}?", answerKey=labels[pick])
        ex = get_task("arc").parse_row(drill_row, f"drill {self.drills}")
        return [{"role": "user", "content": ex.prompt}, {"role": "assistant", "content": ex.reference}]

    def next_row(self) -> tuple[str, dict]:
        want_noans = None
        while True:
            task = self.rng.choices(self.tasks, self.weights)[0] if want_noans is None else "squad"
            if task == "squad" and self.noans_share is not None and want_noans is None:
                want_noans = self.rng.random() < self.noans_share
            row = GENERATORS[task](self.rng, self.drawn, "corpus")
            if _key(row) in self.excluded[task]:
                self.rejected_test += 1
                continue
            if task == "squad" and want_noans is not None:
                if want_noans == bool(row["answers"]["text"]):
                    continue  # not the kind drawn for this row: draw again
            elif task == "squad" and not row["answers"]["text"] and self.rng.random() > self.keep_noans:
                continue
            self.drawn += 1
            return task, row

    def next(self, progress: float = 0.0) -> tuple[str, list[dict]]:
        """The next conversation; `progress` (0..1 of the schedule) moves the drill share from
        drill_share to drill_share_end."""
        share = self.drill_share + (self.drill_share_end - self.drill_share) * progress
        if share and self.rng.random() < share:
            return "drill", self.drill()
        task, row = self.next_row()
        ex = get_task(task).parse_row(row, f"corpus row {self.drawn}")
        reference = f"The answer is {ex.gold}." if task == "arc" and self.arc_target == "letter" else ex.reference
        return task, [{"role": "user", "content": ex.prompt}, {"role": "assistant", "content": reference}]


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


def encode(tokenizer, conv: list[dict]) -> tuple[list[int], int]:
    ids = tokenizer.apply_chat_template(conv, tokenize=True, return_dict=False)
    prompt = tokenizer.apply_chat_template(conv[:1], add_generation_prompt=True, tokenize=True, return_dict=False)
    return ids, len(prompt)


def batch(corpus: Corpus, tokenizer, size: int, prompt_weight: float, progress: float = 0.0):
    """Token ids, the attention mask (real tokens) and the loss weights, kept apart: a prompt
    token at loss weight 0 must still be attended to."""
    seqs = [encode(tokenizer, corpus.next(progress)[1]) for _ in range(size)]
    width = max(len(ids) for ids, _ in seqs)
    x = torch.full((size, width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros(size, width, dtype=torch.long)
    weight = torch.zeros(size, width)
    for r, (ids, plen) in enumerate(seqs):
        x[r, :len(ids)] = torch.tensor(ids)
        mask[r, :len(ids)] = 1
        # Prompt tokens are templated and easy; at full weight they drown the answers, which
        # are what the task metrics score. A small weight keeps a language model (perplexity and
        # KL divergence on prompt text stay meaningful).
        weight[r, :plen] = prompt_weight
        weight[r, plen:len(ids)] = 1.0
    return x, mask, weight


def weighted_loss(logits: torch.Tensor, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    nll = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), x[:, 1:].flatten(), reduction="none")
    w = weight[:, 1:].flatten()
    return (nll * w).sum() / w.sum()


@torch.no_grad()
def greedy_scores(model, tokenizer, examples_by_task: dict, batch_size: int = 50) -> dict[str, float]:
    """Greedy answers scored with the tasks' own scoring functions."""
    model.eval()
    tokenizer.padding_side = "left"
    out = {}
    for task, examples in examples_by_task.items():
        mod = get_task(task)
        preds = []
        for i in range(0, len(examples), batch_size):
            chunk = examples[i:i + batch_size]
            texts = [tokenizer.apply_chat_template([{"role": "user", "content": ex.prompt}], add_generation_prompt=True,
                                                   tokenize=False) for ex in chunk]
            enc = tokenizer(texts, return_tensors="pt", padding=True)
            gen = model.generate(**enc, max_new_tokens=mod.max_new_tokens, do_sample=False,
                                 eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
            preds += tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        scores = mod.score(preds, examples)
        out.update({k: round(v, 4) for k, v in scores.items() if not k.endswith(("_ci_low", "_ci_high"))})
    tokenizer.padding_side = "right"
    model.train()
    return out


def train_model(name: str, tokenizer, args, seed: int, steps: int, out: Path, evals: dict, final_evals: dict) -> dict:
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(seed)
    config = Qwen3Config(vocab_size=len(tokenizer), max_position_embeddings=1024, tie_word_embeddings=True,
                         rope_theta=10000.0, bos_token_id=None, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, **CONFIGS[name])
    model = Qwen3ForCausalLM(config)
    resumed = None
    if args.resume and name == "tiny-qwen3":
        # A second phase: the weights of an earlier phase's checkpoint, a schedule of its own.
        resumed = {"checkpoint": Path(args.resume).name, "earlier_phase": args.phase_note}
        model = Qwen3ForCausalLM.from_pretrained(args.resume)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.95))
    warmup = max(steps // 50, 1)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0)))))
    corpus = Corpus(seed + (1000 if resumed else 0) + args.corpus_seed, weights=args.task_weights,
                    keep_noans=args.keep_unanswerable, arc_target=args.arc_target,
                    also_exclude=args.validation_keys, drill_share=args.drill_share,
                    drill_share_end=args.drill_share_end, noans_share=args.noans_share)
    model.train()
    start, losses, history = time.perf_counter(), [], []
    for step in range(steps):
        if args.stop_at and step == args.stop_at and name == "tiny-qwen3":
            print(f"{name}: stopped at step {step} of a {steps}-step schedule (--stop-at)", flush=True)
            break
        x, mask, weight = batch(corpus, tokenizer, args.batch_size, args.prompt_weight, step / steps)
        loss = weighted_loss(model(input_ids=x, attention_mask=mask).logits, x, weight)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        done = step + 1
        if done % 100 == 0 or done == steps:
            elapsed = time.perf_counter() - start
            left = elapsed / done * (steps - done)
            print(f"{name} step {done}/{steps} loss {sum(losses[-100:]) / len(losses[-100:]):.3f} "
                  f"({elapsed / 60:.1f} min, about {left / 60:.1f} min left)", flush=True)
        if args.eval_every and done % args.eval_every == 0 and done < steps:
            scores = greedy_scores(model, tokenizer, evals)
            history.append({"step": done, **scores})
            print(f"{name} step {done} validation {json.dumps(scores)}", flush=True)
            if args.checkpoints:
                model.save_pretrained(args.checkpoints / f"{name}-step{done}")
    train_seconds = time.perf_counter() - start
    model.eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.do_sample = False
    test_scores = greedy_scores(model, tokenizer, final_evals)
    print(f"{name} test split (greedy) {json.dumps(test_scores)}", flush=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    info = {"name": name, "parameters": sum(p.numel() for p in model.parameters()), "config": CONFIGS[name],
            "steps": steps, "stopped_at": len(losses), "resumed_from": resumed, "arc_target": args.arc_target,
            "batch_size": args.batch_size, "conversations_seen": corpus.drawn,
            "test_rows_excluded_from_corpus": corpus.rejected_test, "task_weights": args.task_weights,
            "keep_unanswerable": args.keep_unanswerable, "noans_share": args.noans_share,
            "corpus_seed_offset": args.corpus_seed,
            "label_drill_share": args.drill_share, "label_drill_share_end": corpus.drill_share_end,
            "label_drills_seen": corpus.drills, "seed": seed, "lr": args.lr,
            "prompt_token_weight": args.prompt_weight, "threads": args.threads,
            "final_loss_mean_last_100": round(sum(losses[-100:]) / max(len(losses[-100:]), 1), 4),
            "train_seconds": round(train_seconds, 1), "validation_history": history,
            "test_split_greedy": test_scores, "torch": torch.__version__,
            "command": recorded_command(sys.argv[1:])}
    (out / "training_info.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def recorded_command(argv: list[str]) -> str:
    """The command line as training_info.json records it: folders by their last name only, so
    that no machine's paths are committed with the weights."""
    out, folder_next = [], False
    for arg in argv:
        out.append(Path(arg).name if folder_next else arg)
        folder_next = arg in ("--out", "--resume", "--checkpoints")
    return "python scripts/build_embedded_models.py " + " ".join(shlex.quote(a) for a in out)


def task_weights(text: str) -> dict[str, float]:
    try:
        weights = {k.strip(): float(v) for k, v in (part.split("=") for part in text.split(","))}
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write it as arc=0.5,squad=0.3,openmath=0.2") from None
    unknown = set(weights) - set(GENERATORS)
    if unknown or not weights:
        raise argparse.ArgumentTypeError(f"unknown task {sorted(unknown)}; the tasks are {sorted(GENERATORS)}")
    return weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--draft-steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--prompt-weight", type=float, default=0.1)
    parser.add_argument("--vocab-size", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--eval-every", type=int, default=1000, help="validation on fresh generated rows (0: never)")
    parser.add_argument("--checkpoints", type=Path, help="save the model at every validation into this folder")
    parser.add_argument("--resume", type=Path, help="start tiny-qwen3 from this checkpoint (a second phase)")
    parser.add_argument("--phase-note", default="", help="with --resume: the command of the earlier phase, recorded")
    parser.add_argument("--stop-at", type=int, default=0, help="end tiny-qwen3's run at this step of its schedule")
    parser.add_argument("--arc-target", choices=("task", "letter"), default="task",
                        help="ARC's training target: the task module's reference, or the label alone")
    parser.add_argument("--task-weights", type=task_weights, default=TASK_WEIGHTS,
                        help="share of each task in the corpus, e.g. arc=0.5,squad=0.3,openmath=0.2")
    parser.add_argument("--keep-unanswerable", type=float, default=KEEP_UNANSWERABLE,
                        help="share of the generated unanswerable SQuAD rows kept in the corpus")
    parser.add_argument("--noans-share", type=float, default=None,
                        help="share of unanswerable rows among the corpus's SQuAD rows (overrides "
                             "--keep-unanswerable; the generator makes a third)")
    parser.add_argument("--drill-share", type=float, default=0.0,
                        help="share of label-binding drills (ARC-style choice lists, see Corpus.drill) in the corpus")
    parser.add_argument("--drill-share-end", type=float, default=None,
                        help="the drill share at the end of the schedule (linear from --drill-share; default: constant)")
    parser.add_argument("--corpus-seed", type=int, default=0, help="offset of the corpus seed (a later phase draws new rows)")
    parser.add_argument("--only", choices=sorted(CONFIGS), help="train one model, reusing the tokenizer in --out")
    parser.add_argument("--out", type=Path, default=OUT, help="output folder (default: the committed embedded models)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from transformers import PreTrainedTokenizerFast

    tok_dir = args.out / "tiny-qwen3"
    tok_dir.mkdir(parents=True, exist_ok=True)
    if args.only is None and args.resume is None:  # a second phase keeps the first phase's tokenizer
        sample = Corpus(seed=999, arc_target=args.arc_target)
        texts = [m["content"] for _ in range(30000) for m in sample.next()[1]]
        train_tokenizer(texts, args.vocab_size, tok_dir)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(tok_dir)
    tokenizer.padding_side = "right"
    # Validation rows: fresh generated rows (seed apart from the corpus), for the progress lines.
    val = Corpus(seed=4242, keep_noans=1.0)
    evals: dict[str, list] = {t: [] for t in task_names()}
    # They are kept out of the training corpus too, as the test rows are, so that the progress
    # lines measure unseen questions (with 3600 sums, an OpenMath question drawn at random has
    # otherwise been trained on).
    args.validation_keys = {t: set() for t in task_names()}
    while min(len(v) for v in evals.values()) < 60:
        task, row = val.next_row()
        if len(evals[task]) < 60:
            evals[task].append(get_task(task).parse_row(row, "validation"))
            args.validation_keys[task].add(_key(row))
    final_evals = {t: load_examples(t, "test") for t in task_names()}
    plan = [("tiny-qwen3", args.steps, 0), ("tiny-qwen3-draft", args.draft_steps, 1)]
    for name, steps, seed in plan:
        if args.only in (None, name):
            print(json.dumps(train_model(name, tokenizer, args, seed, steps, args.out / name, evals, final_evals)))


if __name__ == "__main__":
    main()
