"""Server-rendered pages (Jinja2), Thai and English: display and forms only."""
