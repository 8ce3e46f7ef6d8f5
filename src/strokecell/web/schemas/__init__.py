"""Request bodies (``requests``) and response bodies (``responses``) of the JSON API, kept
apart: a request schema never doubles as a response and the other way round."""
