"""Side effects that leave the database: they must run only after the data they describe commits."""
from django.core.mail import send_mail


def comment_added(org_slug: str, task_title: str, body: str) -> None:
    send_mail(f"New comment on {task_title}", body, "noreply@example.com", [f"team@{org_slug}.example.com"])
