"""Pipelines of several training runs: folds of a protocol and supervision comparisons.

A pipeline turns one resolved configuration into jobs (one per fold, or per method and
seed), runs each through a runner it is given (the command line passes one that runs
``mtfas fit``), and collects the test reports into a table. Pipelines never import the
command line (:mod:`mtfas.cli`): the runner is handed to them.
"""
