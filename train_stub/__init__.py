"""Proxy-model trainer package; its model, kernels and loop come with the train_stub issue."""
