"""Answering: encode scenarios into grid cells, evaluate a frame, answer one scenario, explain it, what is still
possible from partial knowledge, the customer message, and Dask for data beyond one machine.
"""
