"""sprockets_http's benchmark: ``python benchmarks/run.py`` (see docs/performance.rst).

Where things are:

* :mod:`benchmarks.run` - the command line: plans the cells, starts the
  processes, prints the report, writes the page's files (``--write-docs``).
* :mod:`benchmarks.upstream` - the upstream server, a process of its own.
* :mod:`benchmarks.documents` - the 1 KB and 1 MB documents it serves.
* :mod:`benchmarks.variants` - what is measured: the variants (A to G of
  issue 12, the aiohttp and httpx references, the investigation's pieces)
  and the cells (document, sequential or 100 in flight).
* :mod:`benchmarks.environments` - the interpreters the client processes
  run in (this project with and without msgpack, sprockets.mixins.http
  2.6.0 in a virtualenv of its own).
* :mod:`benchmarks.worker` and :mod:`benchmarks.calls` - a client process
  and the code each variant runs in it.
* :mod:`benchmarks.aiohttp_tornado` - the investigation's prototype
  AsyncHTTPClient on aiohttp.
* :mod:`benchmarks.measure` - CPU time over interleaved rounds, and
  instruction counts under callgrind.
* :mod:`benchmarks.records` - the typed results.
* :mod:`benchmarks.report` and :mod:`benchmarks.chart` - the text report and
  the SVG chart.
* :mod:`benchmarks.memory` - peak RSS and bytes held, in fresh processes.
"""
