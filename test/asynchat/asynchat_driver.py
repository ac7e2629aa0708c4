"""Run framing cases through CPython's real asynchat.async_chat and print what it did.

Reads a JSON list of cases on stdin (see chat-cases.ts): each has "chunks" (hex strings, one
per read), "initial" (a terminator spec), and "onFound" / "onCollect" (what the n-th call of
found_terminator / collect_incoming_data does: {"t": spec} sets the terminator, {"d": true}
calls discard_buffers, {"f": hex} runs handle_read() on that chunk from inside the callback,
null does nothing). A spec is {"k": "b", "hex": ...}, {"k": "n",
"n": ...} or {"k": "none"}.

Prints a JSON list with one event list per case: "c:<hex>" for collect_incoming_data,
"f" for found_terminator, "e:<ExceptionName>" when handle_read raised, and after each read
"r:<terminator>:<len(ac_in_buffer)>".
"""

import json
import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import asynchat


def term_value(spec):
    if spec["k"] == "b":
        return bytes.fromhex(spec["hex"])
    if spec["k"] == "n":
        return spec["n"]
    return None


def term_repr(term):
    if term is None:
        return "none"
    if isinstance(term, int):
        return "n:%d" % term
    return "b:" + bytes(term).hex()


class RecordingChat(asynchat.async_chat):
    """An async_chat without a socket whose recv() returns the case's next chunk."""

    def __init__(self, case):
        asynchat.async_chat.__init__(self)
        self.events = []
        self.on_found = case["onFound"]
        self.on_collect = case["onCollect"]
        self.found_calls = 0
        self.collect_calls = 0
        self.next_chunk = b""
        self.set_terminator(term_value(case["initial"]))

    def recv(self, buffer_size):
        return self.next_chunk

    def act(self, actions, n):
        action = actions[n] if n < len(actions) else None
        if action is None:
            return
        if "t" in action:
            self.set_terminator(term_value(action["t"]))
        elif "f" in action:
            self.next_chunk = bytes.fromhex(action["f"])
            self.handle_read()
        else:
            self.discard_buffers()

    def collect_incoming_data(self, data):
        self.events.append("c:" + bytes(data).hex())
        n = self.collect_calls
        self.collect_calls += 1
        self.act(self.on_collect, n)

    def found_terminator(self):
        self.events.append("f")
        n = self.found_calls
        self.found_calls += 1
        self.act(self.on_found, n)


def run(case):
    chat = RecordingChat(case)
    for chunk in case["chunks"]:
        chat.next_chunk = bytes.fromhex(chunk)
        try:
            chat.handle_read()
        except Exception as err:  # recorded, compared with what the scanner threw
            chat.events.append("e:" + type(err).__name__)
        chat.events.append("r:%s:%d" % (term_repr(chat.get_terminator()), len(chat.ac_in_buffer)))
    return chat.events


def main():
    cases = json.load(sys.stdin)
    json.dump([run(case) for case in cases], sys.stdout)


if __name__ == "__main__":
    main()
