"""Quantization schemes: each family is one small module, named in `registry.SCHEMES`.

A scheme turns a model spec into a `base.Quantized` (a ready model on the HF engine, or a file
for llama.cpp); `bench_lib.quant.cases` times, sizes and scores it the same way for every scheme.
"""
