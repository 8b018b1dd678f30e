"""The numbers: box geometry, pairs, COCO matching, accumulation and summary, VOC AP.

Imports only :mod:`evaluator.errors` and :mod:`evaluator.input` of the package.
"""
