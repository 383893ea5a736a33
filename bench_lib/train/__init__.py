"""The train-step suite: full fine-tuning and PEFT methods, one measured step and a short fine-tune.

methods.py   name → how the method is applied (adapter, quantized base, optimizer, per-step hook)
quantize.py  bitsandbytes bases for QLoRA: from_pretrained for real weights, in place for arch-only
data.py      task rows → chat-templated, packed training batches
step.py      one measured train step (time, tokens/s, memory, parameters, optimizer state, FLOP/s)
flops.py     model FLOPs per step and the peak table for MFU
finetune.py  K steps on a task's train split, then the task metric on its test split
stats.py     mean and 95% t-interval across seeds
settings.py  size-tiered defaults (K, seeds, shapes, learning rates)
cli.py       `python -m bench_lib.cli train`: the method table and the GPU memory-ratio check
"""
