"""Greetings: the module whose function the LSP tests hover over."""


def greet(name: str, excited: bool = False) -> str:
    """Return a friendly greeting for NAME."""
    return f"Hello, {name}{'!' if excited else '.'}"
