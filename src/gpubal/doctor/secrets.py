"""Which environment variable names look like they hold a secret. Their values are dropped wherever
gpubal meets them (collected, pasted or reported), redaction or not: one list, so the three places agree."""

SECRET_WORDS = ("TOKEN", "KEY", "SECRET", "PASSWORD", "PASSWD", "AUTH", "CREDENTIAL", "COOKIE", "SESSION")


def looks_secret(name: str) -> bool:
    return any(word in name.upper() for word in SECRET_WORDS)
