"""The sample data: real photos labelled by dlib, and drawn test faces."""
