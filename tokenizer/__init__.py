"""Byte-level BPE tokenizer package; its trainer, encoder and exporters come with the tokenizer issue."""
