"""Run the notifier service: `python -m modelops_notifier`."""

from modelops_notifier.app import create_app
from modelops_notifier.settings import NotifierSettings
from modelops_servicekit.runtime import serve


def main() -> None:
    settings = NotifierSettings()
    serve(create_app(settings), settings.http)


if __name__ == "__main__":
    main()
