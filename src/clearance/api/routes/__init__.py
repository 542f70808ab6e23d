"""The API's routes, by resource; each is a thin call of a use case."""
