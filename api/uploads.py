"""Reading an upload's multipart body ourselves, after the key and the role were checked, with a byte limit.

FastAPI parses a multipart form (and spools its file to the temp folder) before any dependency runs, so a route
with ``File``/``Form`` parameters reads the whole body of a request that has no key at all. The upload route instead
takes no body parameters: its dependencies (key, role, throttle) run first, then this module streams the body,
refusing a declared Content-Length over the limit before reading a byte and counting the file's bytes as they come
(a chunked body cannot pass the limit either). File data goes straight into a private temporary file inside the
upload folder (never the system temp folder), hashed on the way; the parser runs on the thread pool, so the event
loop never waits for the disk.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import HTTPException, Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

SLACK = 64 * 1024  # room for the form fields and the multipart framing around the file
BATCH = 1 << 20  # bytes handed to the parser (on the thread pool) at a time
MAX_FIELDS, MAX_FIELD_BYTES = 20, 4096


@dataclass
class Received:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    path: Path | None = None  # the temporary file (the caller renames or deletes it)
    size: int = 0
    sha256: str = ""

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


class _Reader:
    """python-multipart callbacks: form fields in memory (small), the one file part into the temporary file."""

    def __init__(self, folder: Path, max_bytes: int, suffixes: frozenset[str]) -> None:
        self.folder, self.max_bytes, self.suffixes = folder, max_bytes, suffixes
        self.out = Received()
        self._hash = hashlib.sha256()
        self._fh = None
        self._name = b""
        self._value = b""
        self._disposition = b""
        self._field: str | None = None
        self._data = bytearray()
        self._is_file = False

    def on_part_begin(self) -> None:
        self._disposition, self._field, self._is_file = b"", None, False
        self._data = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        if self._name.lower() == b"content-disposition":
            self._disposition = self._value
        self._name, self._value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name")
        if name is None:
            raise HTTPException(422, "body: a form part has no name")
        self._field = name.decode("utf-8", "replace")
        if b"filename" not in options:
            if len(self.out.fields) >= MAX_FIELDS:
                raise HTTPException(422, f"body: more than {MAX_FIELDS} form fields")
            return
        if self._field != "file" or self.out.filename is not None:
            raise HTTPException(422, f"{self._field}: send exactly one recording, in the field 'file'")
        filename = options[b"filename"].decode("utf-8", "replace")
        suffix = Path(filename).suffix.lower()
        if suffix not in self.suffixes:
            raise HTTPException(
                415,
                f"file: {suffix or 'no extension'} is not a recording type we accept "
                f"({', '.join(sorted(self.suffixes))})",
            )
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".upload-", suffix=suffix)  # mode 0600
        self._fh = os.fdopen(fd, "wb")
        self.out.filename, self.out.path, self._is_file = filename, Path(tmp), True

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if not self._is_file:
            if len(self._data) + len(chunk) > MAX_FIELD_BYTES:
                raise HTTPException(422, f"{self._field}: longer than {MAX_FIELD_BYTES} bytes")
            self._data.extend(chunk)
            return
        self.out.size += len(chunk)
        if self.out.size > self.max_bytes:
            raise HTTPException(413, f"file: larger than the limit of {self.max_bytes // 2**20} MiB")
        self._hash.update(chunk)
        assert self._fh is not None
        self._fh.write(chunk)

    def on_part_end(self) -> None:
        if self._is_file:
            assert self._fh is not None
            self._fh.close()
            self._fh = None
            self.out.sha256 = self._hash.hexdigest()
        elif self._field is not None:
            try:
                self.out.fields[self._field] = self._data.decode("utf-8")
            except UnicodeDecodeError:
                raise HTTPException(422, f"{self._field}: not UTF-8 text") from None

    def on_end(self) -> None:
        pass

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def callbacks(self) -> dict:
        return {
            k: getattr(self, k)
            for k in (
                "on_part_begin",
                "on_part_data",
                "on_part_end",
                "on_header_field",
                "on_header_value",
                "on_header_end",
                "on_headers_finished",
                "on_end",
            )
        }


async def receive_upload(request: Request, folder: Path, max_bytes: int, suffixes: frozenset[str]) -> Received:
    """Stream the multipart body into ``folder``; on any error nothing is left there."""
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data" or not params.get(b"boundary"):
        raise HTTPException(415, "body: send the recording as multipart/form-data, in the field 'file'")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes + SLACK:
        raise HTTPException(413, f"file: larger than the limit of {max_bytes // 2**20} MiB")
    reader = _Reader(folder, max_bytes, suffixes)
    parser = MultipartParser(params[b"boundary"], reader.callbacks())
    try:
        pending = bytearray()
        async for chunk in request.stream():
            pending += chunk
            if len(pending) >= BATCH:
                await run_in_threadpool(parser.write, bytes(pending))
                pending.clear()
        if pending:
            await run_in_threadpool(parser.write, bytes(pending))
        parser.finalize()
    except FormParserError:
        reader.close()
        reader.out.discard()
        raise HTTPException(422, "body: not valid multipart/form-data") from None
    except BaseException:
        reader.close()
        reader.out.discard()
        raise
    reader.close()
    if reader.out.path is None:
        raise HTTPException(422, "file: field required")
    if not reader.out.sha256:  # the body ended inside the file part
        reader.out.discard()
        raise HTTPException(422, "body: the multipart body ended before the file did")
    if reader.out.size == 0:
        reader.out.discard()
        raise HTTPException(422, "file: empty upload")
    return reader.out
