"""The detection-eval HTTP service: upload predictions, score them asynchronously, poll.

``service.main:create_app`` builds the FastAPI app; ``service.cli`` adds ``deteval serve``,
``api``, ``worker`` and ``submit``. The API validates uploads with the evaluator's loaders
and sends scoring tasks by name (``service.dispatch``); it never imports ``workers``.
"""
