"""The box's web app and JSON API (`maestro run`, on ``web.listen``)."""
