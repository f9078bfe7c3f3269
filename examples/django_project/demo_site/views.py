"""The example's views: JSON answers, and the errors JSONErrors turns into JSON."""

from __future__ import annotations

from django.core.exceptions import BadRequest, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

ITEMS = {"1": "teapot"}


def item(request: HttpRequest, item_id: str) -> JsonResponse:
    if item_id not in ITEMS:
        raise Http404(f"There is no item {item_id}.")
    return JsonResponse({"id": item_id, "name": ITEMS[item_id]})


def whoami(request: HttpRequest) -> JsonResponse:
    """What Django sees of the client once ProxyFix has decided."""
    return JsonResponse(
        {
            "remote_addr": request.META.get("REMOTE_ADDR"),
            "scheme": request.scheme,
            "secure": request.is_secure(),
            "host": request.get_host(),
            "url": request.build_absolute_uri(),
        }
    )


def slow(request: HttpRequest) -> HttpResponse:
    raise TimeoutError("the inventory database did not answer")


def crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("password=hunter2 leaked into an exception message")


def bad(request: HttpRequest) -> HttpResponse:
    raise BadRequest("The item ID must be a number.")


def forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied("Only the owner may see this item.")


def big(request: HttpRequest) -> HttpResponse:
    """A large text body, for compression."""
    return HttpResponse(
        "wsgikit and Django, one compression layer only.\n" * 200, content_type="text/plain"
    )


def submit(request: HttpRequest) -> HttpResponse:
    """A POST view: without a CSRF token Django's CSRF middleware answers 403."""
    return HttpResponse("saved", content_type="text/plain")
