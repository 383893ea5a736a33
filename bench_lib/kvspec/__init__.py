"""KV-cache quantization (kvcache.py) and speculative decoding (speculative.py, acceptance.py)."""
