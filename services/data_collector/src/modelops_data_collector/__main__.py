"""Run the data collector service: `python -m modelops_data_collector`."""

import gc

from modelops_data_collector.app import create_app
from modelops_data_collector.settings import DataCollectorSettings
from modelops_servicekit.runtime import serve

# Buffered rows are millions of small objects that live until their partition is flushed: with
# the default thresholds the cyclic GC re-scans them so often that it costs more than decoding
# them (measured: decode 2-3x faster). Collect the young generation less often, and move what
# start-up created out of the collector's sight.
GC_THRESHOLDS = (50_000, 20, 100)


def main() -> None:
    settings = DataCollectorSettings()
    app = create_app(settings)
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()
    serve(app, settings.http)


if __name__ == "__main__":
    main()
