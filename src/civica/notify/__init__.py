"""Notifications: e-mail over SMTP and webhook POSTs, queued as `deliveries` rows in the caller's
transaction and sent off the run's path by the scheduler leader's delivery loop, with retries.

Other features send mail with `civica.notify.mail.send_mail(session, ...)` (docs/schedules.md).
"""
