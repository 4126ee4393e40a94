"""Services mode: several supervised processes under one PID 1 (``--config``, ``--procfile``)."""
