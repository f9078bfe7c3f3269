"""URLs of the example project."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("items/<str:item_id>", views.item),
    path("whoami", views.whoami),
    path("slow", views.slow),
    path("crash", views.crash),
    path("bad", views.bad),
    path("forbidden", views.forbidden),
    path("submit", views.submit),
    path("big", views.big),
]
