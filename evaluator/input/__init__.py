"""Reading users' files: COCO JSON and VOC-style text into checked NumPy columns.

Every problem with the input is raised here, as :class:`evaluator.errors.InputError`
with its location; the metrics trust what these modules return.
"""
