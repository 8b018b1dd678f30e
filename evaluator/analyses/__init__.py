"""What the report adds to the metrics: TIDE errors, the confusion matrix, P/R/F1
operating points and curves, and the comparison of two reports.

Built on :mod:`evaluator.metrics`' matching; never imports the report or the CLI.
"""
