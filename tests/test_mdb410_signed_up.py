"""MDB410 and django-allauth's ``user_signed_up``: the ``user`` a receiver of that signal gets was
created just before the signal was sent, so a unique key that includes it cannot exist yet. The
same insert in a receiver of another signal is still reported. Synthetic projects only."""
from __future__ import annotations

from synthetic import check_all, lines_of, marked, write_project

MODELS = """\
from django.conf import settings
from django.db import models


class Team(models.Model):
    slug = models.SlugField(unique=True)


class TeamMember(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE)
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)

    class Meta:
        unique_together = [("team", "member")]
"""
SIGNALS = """\
from allauth.account.signals import user_logged_in, user_signed_up
from django.dispatch import receiver

from app.models import Team, TeamMember


@receiver(user_signed_up)
def attach(sender, request, user, **kwargs):
    team = Team.objects.get(slug=request.session["team"])
    TeamMember.objects.create(team=team, member=user)


@receiver(user_logged_in)
def attach_again(sender, request, user, **kwargs):
    team = Team.objects.get(slug=request.session["team"])
    TeamMember.objects.create(team=team, member=user)  # MDB410
"""


def test_a_signed_up_user_is_new_and_a_logged_in_one_is_not(tmp_path):
    root = write_project(tmp_path, {"manage.py": "", "app/__init__.py": "", "app/models.py": MODELS,
                                    "app/signals.py": SIGNALS})
    result = check_all(root)
    assert lines_of(result, "MDB410", "app/signals.py") == marked(root, "app/signals.py", "# MDB410")
