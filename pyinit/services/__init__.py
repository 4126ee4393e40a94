"""Supervising several services (``--config``, ``--procfile``); nothing here is imported in single-child mode."""
