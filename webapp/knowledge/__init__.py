"""Knowledge: a store's files, read into chunks, indexed and searched.

The file-to-chunks layer is pure (no database, no Flask):

- ``parsing``: bytes to a ``ParsedDocument`` (``detect_kind``, ``extract``,
  ``parse``), with ``html_blocks`` and ``pdf_text`` for those formats;
- ``chunking``: a document to ``Chunk`` objects with heading paths
  (``chunk_document``, ``estimate_tokens``);
- ``errors``: why a file was refused, for the person who uploaded it.
"""
