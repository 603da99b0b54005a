"""KATCP messages: ``?request``, ``!reply`` and ``#inform`` lines with escaped arguments."""

KINDS = {"?": "request", "!": "reply", "#": "inform"}
_ESCAPES = {"\\": "\\\\", " ": "\\_", "\0": "\\0", "\n": "\\n", "\r": "\\r", "\x1b": "\\e", "\t": "\\t"}
_UNESCAPES = {v[1]: k for k, v in _ESCAPES.items()}


class MessageError(ValueError):
    """A line that is not a valid KATCP message."""


def escape(arg):
    if arg == "":
        return "\\@"
    return "".join(_ESCAPES.get(ch, ch) for ch in arg)


def unescape(arg):
    if arg == "\\@":
        return ""
    out, chars = [], iter(arg)
    for ch in chars:
        if ch != "\\":
            out.append(ch)
            continue
        code = next(chars, None)
        if code not in _UNESCAPES:
            raise MessageError(f"bad escape sequence in {arg!r}")
        out.append(_UNESCAPES[code])
    return "".join(out)


class Message:
    """One KATCP message."""

    def __init__(self, kind, name, *args):
        if kind not in KINDS.values():
            raise MessageError(f"unknown message kind {kind!r}")
        if not name or not all(c.isalnum() or c == "-" for c in name):
            raise MessageError(f"bad message name {name!r}")
        self.kind, self.name, self.args = kind, name, [str(a) for a in args]

    @classmethod
    def request(cls, name, *args):
        return cls("request", name, *args)

    @classmethod
    def reply(cls, name, *args):
        return cls("reply", name, *args)

    @classmethod
    def inform(cls, name, *args):
        return cls("inform", name, *args)

    @classmethod
    def parse(cls, line):
        line = line.rstrip("\r\n")
        if not line or line[0] not in KINDS:
            raise MessageError(f"not a KATCP message: {line!r}")
        parts = line[1:].split()
        if not parts:
            raise MessageError("message has no name")
        return cls(KINDS[line[0]], parts[0], *(unescape(p) for p in parts[1:]))

    def reply_ok(self):
        return self.kind == "reply" and bool(self.args) and self.args[0] == "ok"

    def __str__(self):
        mark = {v: k for k, v in KINDS.items()}[self.kind]
        return " ".join([mark + self.name] + [escape(a) for a in self.args])

    def __eq__(self, other):
        return isinstance(other, Message) and (self.kind, self.name, self.args) == (other.kind, other.name, other.args)

    def __repr__(self):
        return f"Message({str(self)!r})"
