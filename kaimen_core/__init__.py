"""Kaimen's domain package: every read and write of the app, the sidecar and the worker.

One module per domain noun (see README): ``config``, ``db``, ``models``, ``auth``,
``tenancy``, ``audit``, ``dashboard``, ``demo``. Pages and webhooks call these and
never the database or a provider SDK directly.
"""

__all__: list[str] = []  # the package itself exports nothing; import its modules
