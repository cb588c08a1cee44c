"""Run the data collector service: `python -m modelops_data_collector`."""

from modelops_data_collector.app import create_app
from modelops_data_collector.settings import DataCollectorSettings
from modelops_servicekit.runtime import serve


def main() -> None:
    settings = DataCollectorSettings()
    serve(create_app(settings), settings.http)


if __name__ == "__main__":
    main()
