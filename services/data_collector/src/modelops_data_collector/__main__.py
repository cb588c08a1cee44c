"""Run the data collector service: `python -m modelops_data_collector`."""

import gc

from modelops_data_collector.app import create_app
from modelops_data_collector.settings import DataCollectorSettings
from modelops_servicekit.runtime import collect_less_often, serve


def main() -> None:
    settings = DataCollectorSettings()
    app = create_app(settings)
    collect_less_often()  # buffered rows live until their partition is flushed
    gc.freeze()  # what start-up created leaves the collector's sight
    serve(app, settings.http)


if __name__ == "__main__":
    main()
