"""Asking the user for one value (a port, a key): a small Tk dialog where Tk exists."""

from __future__ import annotations


def ask(title: str, initial: str) -> str | None:
    try:
        import tkinter
        from tkinter import simpledialog
    except ImportError:
        return None
    root = tkinter.Tk()
    root.withdraw()
    try:
        return simpledialog.askstring(title, f"{title}:", initialvalue=initial, parent=root)
    finally:
        root.destroy()
