"""The plain page layout of /stats, /expiring and /admin (no map, no script)."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<link rel="stylesheet" href="{{ url_for('static', filename='pages.css') }}">
</head><body><main>
<h1>{{ title }}</h1>
{% block body %}{% endblock %}
</main></body></html>"""
