"""The detection-eval HTTP service: upload predictions, score them asynchronously, poll.

Three parts:

* :mod:`service.api`: the FastAPI app (``service.api.app:create_app``), its routes,
  upload intake and validation (with the evaluator's loaders), pages and errors;
* :mod:`service.backend`: the job backend it shares with the workers (settings, job
  store, storage, dispatch by task name, worker presence); framework-free;
* :mod:`service.ops`: ``deteval serve``'s supervisor, the embedded Redis-protocol
  server and the sweeper.

``service.cli`` registers ``deteval serve``, ``api`` and ``submit``; ``service.client`` is
the Python client they use. The service never imports ``workers``.
"""
