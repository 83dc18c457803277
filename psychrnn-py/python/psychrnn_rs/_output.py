"""What the Rust side prints (progress lines, the CLI's output) reaches Python's ``sys.stdout``
and ``sys.stderr`` where they are not the process's own (Jupyter's are not: Rust's writes would
go to the terminal that started the kernel). While a command runs, file descriptors 1 and 2 are
pointed at pipes whose contents a thread copies to Python's streams."""

import contextlib
import io
import os
import sys
import threading

__all__ = ["forwarded"]


def _is_process_stream(stream, fd):
    try:
        return stream.fileno() == fd
    except (AttributeError, io.UnsupportedOperation, ValueError):
        return False


def _copy(read_fd, stream):
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        while True:
            chunk = pipe.read(65536)
            if not chunk:
                return
            try:
                stream.write(chunk.decode("utf-8", "replace"))
                stream.flush()
            except Exception:  # a closed notebook stream must not break the command
                pass


@contextlib.contextmanager
def forwarded():
    """Copies what is written to file descriptors 1 and 2 meanwhile into ``sys.stdout`` and
    ``sys.stderr``, when those are not the descriptors themselves."""
    targets = [(fd, stream) for fd, stream in ((1, sys.stdout), (2, sys.stderr)) if stream is not None and not _is_process_stream(stream, fd)]
    if not targets:
        yield
        return
    saved, threads = [], []
    for fd, stream in targets:
        read_fd, write_fd = os.pipe()
        saved.append((fd, os.dup(fd)))
        os.dup2(write_fd, fd)
        os.close(write_fd)
        thread = threading.Thread(target=_copy, args=(read_fd, stream), daemon=True)
        thread.start()
        threads.append(thread)
    try:
        yield
    finally:
        for fd, copy in saved:
            os.dup2(copy, fd)  # closes the pipe's last write end: the copier sees its end
            os.close(copy)
        for thread in threads:
            thread.join(timeout=5)
