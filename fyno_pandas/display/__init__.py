"""Display: a plan as text, HTML and an ipywidgets view; the preview before a push."""
