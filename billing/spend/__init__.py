"""Spend controls: caps held at ingestion, alerts fired once, the account paused at its cap.

``services`` (the ingestion hook, status, setting the controls, the alert job), ``models``,
and the entry points ``api``, ``views``, ``urls``, ``tasks``. The pure rules are ``billing.caps``.
"""
