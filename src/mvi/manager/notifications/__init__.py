"""Notifications: what services (and the manager itself) raise, counted and emailed.

:mod:`~mvi.manager.notifications.rules` decides without I/O (identity, the email throttle,
crash loops, the text of an email); :mod:`~mvi.manager.notifications.store` counts them in
the registry; :mod:`~mvi.manager.notifications.notifier` ties both to the mailer
(:mod:`~mvi.manager.notifications.mailer`, a bounded queue with retries over SMTP).
"""

__all__: list[str] = []
