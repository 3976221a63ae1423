"""The full-stack inference: backends, the face pipeline, submissions and
the demo."""
