"""The REST API framework shared by every app (see portal/api/urls.py for the v1 router).

Adding an endpoint for a model means one serializer and one viewset in ``<app>/api/``: subclass
``ScopedModelViewSet`` / ``ScopedReadOnlyViewSet`` (scoping, HR-only writes, query optimisation,
services for writes) and register it on the app's router, which ``portal.api.urls`` merges in.
"""
