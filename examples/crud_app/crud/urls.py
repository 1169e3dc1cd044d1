from django.urls import path

from tasks import views

urlpatterns = [
    path("orgs/<slug:org_slug>/projects/", views.projects),
    path("orgs/<slug:org_slug>/projects/<int:project_id>/board/", views.project_board),
    path("orgs/<slug:org_slug>/projects/<int:project_id>/tasks/", views.project_tasks),
    path("orgs/<slug:org_slug>/tasks/<int:task_id>/", views.task_detail),
    path("orgs/<slug:org_slug>/tasks/<int:task_id>/comments/", views.comments),
    path("orgs/<slug:org_slug>/tasks/close/", views.close_tasks),
]
