"""A minimal Django API behind the recommended wsgikit stack (see ``wsgi.py``)."""
