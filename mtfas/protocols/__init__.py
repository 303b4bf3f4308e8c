"""Benchmark layouts and protocols as plain data, shared by data modules and writers.

Light modules (no torch, no Lightning): names, folders, protocol files and the official
protocol rules of each benchmark.
"""
