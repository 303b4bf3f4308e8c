"""Reporting: score files and results tables, run collection (``mtfas report``) and plots.

* :mod:`mtfas.reporting.results`: ``scores.csv``, ``results.csv`` and ``results.md`` of a
  test run;
* :mod:`mtfas.reporting.runs`: several runs collected into one table (mean +- std);
* :mod:`mtfas.reporting.tables`: markdown tables and mean +- std summaries shared by
  ``mtfas report``, ``mtfas folds`` and ``mtfas compare``;
* :mod:`mtfas.reporting.plots`: ROC, DET, score histograms and map panels.
"""
