"""Run the drift monitor service: `python -m modelops_drift_monitor`."""

from modelops_drift_monitor.app import create_app
from modelops_drift_monitor.settings import DriftMonitorSettings
from modelops_servicekit.runtime import serve


def main() -> None:
    settings = DriftMonitorSettings()
    serve(create_app(settings), settings.http)


if __name__ == "__main__":
    main()
